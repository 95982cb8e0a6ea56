// Messaging: the front-end's rules without gRPC. Callers come from tokens
// of the token tests' PKI (token_test_env.h); calls to other nodes are
// scripted.
#include "server/node/messaging.h"

#include <memory>
#include <string>
#include <vector>

#include <google/protobuf/util/time_util.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/token/token_test_env.h"
#include "tests/server/node/scripted_node_calls.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::ScriptedNodeCalls;
namespace tt = ::trustfabric::token::test;

constexpr size_t kBurst = 2;
const NodeTarget kRegistrar{"127.0.0.11:7443", "registrar1.contoso.test", "contoso.test",
                            pki::Role::kRegistrar};

class MessagingTest : public ::testing::Test {
 protected:
  MessagingTest() {
    config_.set_trust_domain("contoso.test");
    config_.set_dns_name(tt::kHost);
    config_.mutable_registrar()->set_address("127.0.0.11:7443");
    config_.mutable_registrar()->set_server_name("registrar1.contoso.test");
    config_.mutable_edge()->set_address("127.0.0.13:7443");
    config_.mutable_edge()->set_server_name("edge1.contoso.test");
    EXPECT_THAT(holder_.Swap(tt::MustCreateSnapshot(tt::BaseSnapshot(tt::SharedTokenPki()))),
                IsOk());
    UnknownRecipientLimiter::Options probing;
    probing.burst = kBurst;
    probing.refill = absl::Hours(1);
    probing.clock = [this] { return now_; };
    MailboxLimits mailboxes;
    mailboxes.per_user = 2;
    messaging_ = std::make_unique<Messaging>(&config_, &holder_, tt::MakeVerifier(&now_), &calls_,
                                             mailboxes, probing);
  }

  std::string UserToken(const std::string& upn) const {
    token::UserClaims user;
    user.upn = upn;
    absl::StatusOr<std::string> t = token::MintUserToken(
        tt::AppOptions(now_), tt::Credentials(tt::SharedTokenPki().app), user, true);
    EXPECT_THAT(t.status(), IsOk());
    return t.value_or("");
  }

  static Messaging::Caller Alice() { return {"alice@contoso.test", {}}; }

  // Alice's Send of "hello" to `to`, which must succeed with
  // `disposition`: the message as the last call carried it, with the id the
  // client was told.
  v1::Message SendFromAlice(const std::string& to, const std::string& disposition) {
    absl::StatusOr<Messaging::Sent> sent = messaging_->Send(Alice(), to, "hello", now_);
    EXPECT_THAT(sent.status(), IsOk());
    const std::vector<ScriptedNodeCalls::Call> log = calls_.log();
    if (!sent.ok() || log.empty()) {
      ADD_FAILURE() << "no message went out";
      return v1::Message();
    }
    EXPECT_EQ(sent->disposition, disposition);
    EXPECT_THAT(sent->message_id, ::testing::MatchesRegex("[0-9a-f]{32}"));
    EXPECT_EQ(log.back().message.id(), sent->message_id);
    return log.back().message;
  }

  // The registrar knows alice and dave at fe2, which answers "queued"; the
  // edge answers `relayed`.
  void ScriptRoutes(absl::StatusOr<std::string> relayed) {
    calls_.ScriptRegistrar({"alice@contoso.test", "dave@contoso.test"}, "fe2.contoso.test",
                           "127.0.0.22:7443");
    calls_.ScriptDeliver("queued");
    calls_.ScriptRelay(std::move(relayed));
  }

  absl::Time now_ = tt::TestNow();
  v1::NodeConfig config_;
  trust::SnapshotHolder holder_;
  ScriptedNodeCalls calls_;
  std::unique_ptr<Messaging> messaging_;
};

// --- Callers ----------------------------------------------------------------

TEST_F(MessagingTest, TheClientListenerServesOnlySignInSendAndReceive) {
  const std::string bearer = "Bearer " + UserToken("alice@contoso.test");
  for (const std::string method :
       {"/trustfabric.v1.FrontEnd/SignIn", "/trustfabric.v1.FrontEnd/Send",
        "/trustfabric.v1.FrontEnd/Receive"}) {
    absl::StatusOr<Messaging::Caller> caller = messaging_->Authenticate(method, bearer);
    ASSERT_THAT(caller.status(), IsOk()) << method;
    EXPECT_EQ(caller->user, "alice@contoso.test");
  }
  struct Case {
    std::string method;
    std::string named;  // as the refusal names it
  } refused[] = {
      {"/trustfabric.v1.FrontEnd/Deliver", "/trustfabric.v1.FrontEnd/Deliver"},
      {"/trustfabric.v1.Registrar/Register", "/trustfabric.v1.Registrar/Register"},
      {"/x\n/y", "/x\\x0a/y"},
  };
  for (const Case& c : refused) {
    absl::Status s = messaging_->Authenticate(c.method, bearer).status();
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, "")) << c.named;
    EXPECT_EQ(s.message(), "policy: " + c.named + " is not served on the client listener");
  }
}

TEST_F(MessagingTest, TheCallerIsTheUserOfABearerToken) {
  const std::string token = UserToken("alice@contoso.test");
  for (const std::string& authorization : {"Bearer " + token, "bearer  " + token + " "}) {
    absl::StatusOr<Messaging::Caller> caller = messaging_->CallerOf(authorization);
    ASSERT_THAT(caller.status(), IsOk());
    EXPECT_EQ(caller->user, "alice@contoso.test");
    EXPECT_EQ(caller->token.client_id, tt::kAppGuid);
    EXPECT_EQ(caller->token.expires, now_ + absl::Hours(1));
  }
  struct Case {
    std::string authorization;
    std::string reason;
  } unauthenticated[] = {
      {"", "token: missing authorization: bearer token"},
      {"Basic YWxpY2U6aHVudGVyMg", "token: authorization is not a bearer token"},
      {"Bearer", "token: authorization is not a bearer token"},
      {token, "token: authorization is not a bearer token"},
      {"Bearer " + token + "x", "token: "},
  };
  for (const Case& c : unauthenticated) {
    EXPECT_THAT(messaging_->CallerOf(c.authorization).status(),
                StatusIs(absl::StatusCode::kUnauthenticated, c.reason))
        << c.authorization.substr(0, 20);
  }
}

TEST_F(MessagingTest, TheTokenMustNameAUserOfThisDomain) {
  absl::StatusOr<std::string> app_only =
      token::MintAppOnlyToken(tt::AppOptions(now_), tt::Credentials(tt::SharedTokenPki().app));
  ASSERT_THAT(app_only.status(), IsOk());
  absl::Status s = messaging_->CallerOf("Bearer " + *app_only).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(), "token: an app-only token names no user; sign in with a user+app token");

  s = messaging_->CallerOf("Bearer " + UserToken("bob@fabrikam.test")).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(), "token: user bob@fabrikam.test is not a user of contoso.test");

  s = messaging_->CallerOf("Bearer " + UserToken("alice")).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied,
                          "token: user (upn or smtp claim): expected <name>@<trust-domain>"));
}

// --- SignIn -----------------------------------------------------------------

TEST_F(MessagingTest, SignInRegistersTheUserHere) {
  calls_.ScriptRegister(absl::OkStatus());
  ASSERT_THAT(messaging_->SignIn(Alice()), IsOk());
  ASSERT_THAT(calls_.methods(), ElementsAre("Register"));
  EXPECT_EQ(calls_.log()[0].user, "alice@contoso.test");
  EXPECT_EQ(calls_.log()[0].target, kRegistrar);
}

TEST_F(MessagingTest, SignInFailuresNameNoRegistrar) {
  calls_.ScriptRegister(
      absl::UnavailableError("failed to connect to all addresses; 127.0.0.11:7443"));
  absl::Status s = messaging_->SignIn(Alice());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable, ""));
  EXPECT_EQ(s.message(), "sign-in is unavailable now; retry later");

  calls_.ScriptRegister(absl::ResourceExhaustedError("registrar is full (5 users)"));
  s = messaging_->SignIn(Alice());
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_EQ(s.message(), "sign-in is not possible now");

  // No registrar configured: refused without a call.
  config_.clear_registrar();
  s = messaging_->SignIn(Alice());
  EXPECT_EQ(s.message(), "sign-in is not possible now");
  EXPECT_THAT(calls_.methods(), ElementsAre("Register", "Register"));
}

// --- Send -------------------------------------------------------------------

TEST_F(MessagingTest, ALocalRecipientIsLookedUpAndDeliveredToItsFrontEnd) {
  ScriptRoutes("unused");
  const v1::Message m = SendFromAlice("dave@contoso.test", "queued");
  ASSERT_THAT(calls_.methods(), ElementsAre("Lookup", "Deliver"));
  const std::vector<ScriptedNodeCalls::Call> log = calls_.log();
  EXPECT_EQ(log[0].user, "dave@contoso.test");
  EXPECT_EQ(log[0].target, kRegistrar);
  EXPECT_EQ(log[1].target, (NodeTarget{"127.0.0.22:7443", "fe2.contoso.test", "contoso.test",
                                       pki::Role::kFrontend}));
  EXPECT_EQ(m.from(), "alice@contoso.test");
  EXPECT_EQ(m.to(), "dave@contoso.test");
  EXPECT_EQ(m.body(), "hello");
  EXPECT_EQ(m.sent_at().seconds(), absl::ToUnixSeconds(now_));
}

TEST_F(MessagingTest, ARecipientOfAnotherDomainGoesToThisDomainsEdge) {
  ScriptRoutes("delivered");
  const v1::Message m = SendFromAlice("bob@fabrikam.test", "delivered");
  ASSERT_THAT(calls_.methods(), ElementsAre("Relay"));
  EXPECT_EQ(calls_.log()[0].target, (NodeTarget{"127.0.0.13:7443", "edge1.contoso.test",
                                                "contoso.test", pki::Role::kEdge}));
  EXPECT_EQ(m.from(), "alice@contoso.test");
  EXPECT_EQ(m.to(), "bob@fabrikam.test");
}

TEST_F(MessagingTest, AMalformedSendNamesTheClientsFields) {
  absl::Status s = messaging_->Send(Alice(), "Bob", "hello", now_).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_EQ(s.message(), "to: expected <name>@<trust-domain> in lower case");
  s = messaging_->Send(Alice(), "bob@fabrikam.test", "\xff", now_).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_EQ(s.message(), "body: not valid utf-8");
  EXPECT_THAT(calls_.log(), IsEmpty());
}

TEST_F(MessagingTest, AFailedSendTellsTheClassAndTheRecipientOnly) {
  ScriptRoutes(absl::UnavailableError(
      "relay to fabrikam.test via edge1.fabrikam.test: connection refused (127.0.0.13:7443)"));
  absl::StatusOr<Messaging::Sent> sent =
      messaging_->Send(Alice(), "bob@fabrikam.test", "hello", now_);
  EXPECT_THAT(sent.status(), StatusIs(absl::StatusCode::kUnavailable,
                                      "to: fabrikam.test cannot be reached now; retry later "
                                      "(message "));
  // Neither the edge nor an address.
  for (const char* hidden : {"edge1", "127.0.0.13"}) {
    EXPECT_EQ(sent.status().message().find(hidden), absl::string_view::npos) << hidden;
  }

  sent = messaging_->Send(Alice(), "nobody@contoso.test", "hello", now_);
  EXPECT_THAT(sent.status(), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(sent.status().message(), "to: no such recipient nobody@contoso.test");
}

// The recipient's front-end is out of memory for queued messages (other
// users' messages fill it): the sender learns that its recipient cannot take
// more now, and nothing about whose messages those are.
TEST_F(MessagingTest, ASendPastTheFrontEndsTotalBoundNamesNoOtherUser) {
  v1::Message carols;
  carols.set_id("m-1");
  carols.set_from("bob@fabrikam.test");
  carols.set_to("carol@contoso.test");
  carols.set_body("hello");
  MailboxLimits limits;
  limits.total_bytes = carols.SpaceUsedLong();
  Mailboxes fe2(limits);
  ASSERT_THAT(fe2.Deliver(carols).status(), IsOk());
  v1::Message daves = carols;
  daves.set_to("dave@contoso.test");
  absl::Status full = fe2.Deliver(daves).status();
  ASSERT_THAT(full, StatusIs(absl::StatusCode::kResourceExhausted, "mailboxes are full"));

  calls_.ScriptRegistrar({"dave@contoso.test"}, "fe2.contoso.test", "127.0.0.22:7443");
  calls_.ScriptDeliver(full);
  absl::Status s = messaging_->Send(Alice(), "dave@contoso.test", "hello", now_).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted,
                          "to: dave@contoso.test cannot take more messages now; retry later"));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("carol")));
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("bob")));
}

TEST_F(MessagingTest, UnknownRecipientsPastTheAllowanceStopEverySendOfTheCaller) {
  ScriptRoutes("queued");
  for (size_t i = 0; i < kBurst; ++i) {
    EXPECT_THAT(messaging_->Send(Alice(), "guess@contoso.test", "hello", now_).status(),
                StatusIs(absl::StatusCode::kNotFound, "to: no such recipient guess@contoso.test"));
  }
  const size_t calls_before = calls_.log().size();
  // Known recipients too: the refusal tells nothing about the name.
  for (const std::string to : {"dave@contoso.test", "bob@fabrikam.test", "guess@contoso.test"}) {
    absl::Status s = messaging_->Send(Alice(), to, "hello", now_).status();
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted, "")) << to;
    EXPECT_EQ(s.message(), "too many unknown recipients; retry after 3600s");
  }
  EXPECT_EQ(calls_.log().size(), calls_before);
  // Another caller is not affected; an hour later neither is alice.
  EXPECT_THAT(
      messaging_->Send({"dave@contoso.test", {}}, "alice@contoso.test", "hi", now_).status(),
      IsOk());
  now_ += absl::Hours(1);
  EXPECT_THAT(messaging_->Send(Alice(), "dave@contoso.test", "hello", now_).status(), IsOk());
}

// --- Deliver ----------------------------------------------------------------

TEST_F(MessagingTest, DeliverTakesMessagesForUsersOfThisDomainOnly) {
  const tls::PeerIdentity edge = testing::NodePeer("contoso.test", pki::Role::kEdge, "edge1");
  v1::Message m;
  m.set_id("m-1");
  m.set_from("bob@fabrikam.test");
  m.set_to("alice@contoso.test");
  m.set_body("hello");
  absl::StatusOr<std::string> disposition = messaging_->Deliver(edge, m);
  ASSERT_THAT(disposition.status(), IsOk());
  EXPECT_EQ(*disposition, "queued");
  EXPECT_EQ(messaging_->mailboxes().queued("alice@contoso.test"), 1u);

  m.set_to("carol@northwind.test");
  absl::Status s = messaging_->Deliver(edge, m).status();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, ""));
  EXPECT_EQ(s.message(), "message.to: carol@northwind.test is not a user of contoso.test");
  m.set_id("");
  EXPECT_THAT(messaging_->Deliver(edge, m).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "message.id:"));

  // The mailbox bound (2 here) holds.
  m.set_id("m-2");
  m.set_to("alice@contoso.test");
  ASSERT_THAT(messaging_->Deliver(edge, m).status(), IsOk());
  EXPECT_THAT(messaging_->Deliver(edge, m).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, ""));
  EXPECT_EQ(messaging_->mailboxes().queued("alice@contoso.test"), 2u);
  EXPECT_THAT(calls_.log(), IsEmpty());
}

}  // namespace
}  // namespace trustfabric::node
