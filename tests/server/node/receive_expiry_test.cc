// A user's FrontEnd.Receive stream ends at the bearer token's exp
// (docs/design.md §4), on the front-end's own clock (injected into its
// TrustSource and token verifier): the client listener's stream tracking
// cancels it with UNAUTHENTICATED "token: token expired at ...", even
// though no trust change happens and the token would still pass the
// verifier's clock skew. A message sent to the user afterwards waits in
// the user's queue (offline) and reaches the user's next stream.
//
//   contoso.test: registrar1, fe1 (in-process, real listeners; node_env.h)
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/token/mint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/server/node/node_env.h"
#include "tests/testing/movable_clock.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::MovableClock;

using testing::NodeFiles;
using testing::TestNode;

constexpr char kApp[] = "c0c0c0c0-0000-4000-8000-00000000c0c0";
constexpr char kAlice[] = "alice@contoso.test";
constexpr char kBob[] = "bob@contoso.test";
constexpr char kReceive[] = "/trustfabric.v1.FrontEnd/Receive";

// One Receive stream, read on its own thread; bounded waits on what it got.
class ReceiveClient {
 public:
  ReceiveClient(v1::FrontEnd::Stub& stub, const std::string& token) {
    // A stream left open by a regression fails the test by this deadline.
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    ctx_.AddMetadata("authorization", "Bearer " + token);
    reader_ = stub.Receive(&ctx_, v1::ReceiveRequest());
    thread_ = std::thread([this] {
      v1::Message message;
      while (reader_->Read(&message)) {
        absl::MutexLock lock(&mu_);
        messages_.push_back(message);
      }
      grpc::Status status = reader_->Finish();
      absl::MutexLock lock(&mu_);
      status_ = std::move(status);
      ended_ = true;
    });
  }
  ~ReceiveClient() {
    ctx_.TryCancel();
    thread_.join();
  }

  // Whether `count` messages arrived (bounded wait; false if it ended first).
  bool WaitMessages(size_t count) {
    absl::MutexLock lock(&mu_);
    const auto enough = [this, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return messages_.size() >= count || ended_;
    };
    mu_.AwaitWithTimeout(absl::Condition(&enough), kWait);
    return messages_.size() >= count;
  }
  // The stream's final status; fails the test when it is still open.
  grpc::Status AwaitEnd() {
    absl::MutexLock lock(&mu_);
    const auto ended = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return ended_; };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&ended), kWait)) << "stream still open";
    return status_;
  }
  std::vector<v1::Message> messages() const {
    absl::MutexLock lock(&mu_);
    return messages_;
  }

 private:
  static constexpr absl::Duration kWait = absl::Seconds(20);

  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::Message>> reader_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<v1::Message> messages_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

class ReceiveExpiryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const NodeFiles registrar_files = testing::WriteNode(
        contoso_, dir_, "registrar1",
        contoso_.IssueNode("registrar", "registrar1", "registrar1.contoso.test"));
    const NodeFiles fe1_files = testing::WriteNode(contoso_, dir_, "fe1",
                                                   contoso_.IssueNode("frontend", "fe1", "fe1.contoso.test"));
    registrar_ = Start("registrar", "registrar1", registrar_files);
    fe1_ = Start("frontend", "fe1", fe1_files);
    ASSERT_TRUE(registrar_ && fe1_);

    // Wiring, before any call reaches a node.
    registrar_->config().mutable_addresses()->insert({"fe1.contoso.test", fe1_->internal_address()});
    fe1_->config().mutable_registrar()->set_address(registrar_->internal_address());
    fe1_->config().mutable_registrar()->set_server_name("registrar1.contoso.test");

    // contoso's state with its application registered as a token issuer
    // that allows user delegation.
    v1::TrustSnapshot state = testing::ContosoState(contoso_, fabrikam_, 1);
    v1::RootAuthority* root = state.add_roots();
    root->set_name("app1-signing");
    root->set_trust_domain("contoso.test");
    root->set_certificates_pem(app_.certificate.ToPem());
    root->add_purposes(v1::TOKEN_SIGNING);
    v1::TokenIssuer* issuer = state.add_issuers();
    issuer->set_name("app1");
    issuer->set_registered_issuer_name(absl::StrCat(kApp, "@", testing::kContosoRealm));
    issuer->add_signing_certificates_pem(app_.certificate.ToPem());
    issuer->add_algorithms(v1::RS256);
    issuer->set_allow_user_delegation(true);
    testing::Install(&registrar_->holder(), state);
    testing::Install(&fe1_->holder(), state);

    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = contoso_.RootPem();
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("fe1.contoso.test");
    stub_ = v1::FrontEnd::NewStub(
        grpc::CreateCustomChannel(fe1_->client_address(), grpc::SslCredentials(ssl), args));
  }

  std::unique_ptr<TestNode> Start(const std::string& role, const std::string& name,
                                  const NodeFiles& files) {
    TestNode::Options o;
    o.role = role;
    o.trust_domain = "contoso.test";
    o.realm = testing::kContosoRealm;
    o.dns_name = absl::StrCat(name, ".contoso.test");
    o.certificate_file = files.certificate_file;
    o.key_file = files.key_file;
    o.clock = [this] { return clock_.Now(); };
    return TestNode::Start(o);
  }

  // A user token for fe1 (signed outer token) valid from `nbf` for
  // `lifetime`.
  std::string UserToken(const std::string& upn, absl::Time nbf, absl::Duration lifetime) {
    token::MintOptions o;
    o.issuer_id = kApp;
    o.client_id = kApp;
    o.realm = testing::kContosoRealm;
    o.host = "fe1.contoso.test";
    o.lifetime = lifetime;
    o.now = nbf;
    token::UserClaims user;
    user.upn = upn;
    absl::StatusOr<token::SigningCredentials> credentials =
        token::SigningCredentials::Create(app_.key, app_.certificate);
    EXPECT_TRUE(credentials.ok()) << credentials.status();
    if (!credentials.ok()) return "";
    absl::StatusOr<std::string> t =
        token::MintUserToken(o, *credentials, user, /*sign_outer=*/true);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }

  static std::unique_ptr<grpc::ClientContext> Call(const std::string& token) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx->AddMetadata("authorization", "Bearer " + token);
    return ctx;
  }

  // Sends `body` to alice as bob; the disposition, or "" (test failed).
  std::string SendToAlice(const std::string& bob_token, const std::string& body) {
    v1::SendRequest req;
    req.set_to(kAlice);
    req.set_body(body);
    v1::SendResponse resp;
    grpc::Status s = stub_->Send(Call(bob_token).get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
    return resp.disposition();
  }

  // Polls until fe1's client listener tracks `count` streams (bounded); a
  // stream stops being tracked once the server has finished its call.
  bool AwaitTracked(size_t count) {
    for (int i = 0; i < 1000; ++i) {
      if (fe1_->client_security()->tracked_streams() == count) return true;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return false;
  }

  // Declared first: the nodes read it until they are destroyed.
  MovableClock clock_;
  TempDir dir_;
  TestDomain contoso_{"contoso.test"};
  TestDomain fabrikam_{"fabrikam.test"};
  pki::IssuedCertificate app_ = testing::SelfSignedSigningCert("app1");
  std::unique_ptr<TestNode> registrar_;
  std::unique_ptr<TestNode> fe1_;
  std::unique_ptr<v1::FrontEnd::Stub> stub_;
};

TEST_F(ReceiveExpiryTest, ReceiveStreamEndsAtTokenExpAndLaterMessagesAreQueued) {
  // Whole seconds, as the token carries them.
  const absl::Time start = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now()));
  const absl::Time exp = start + absl::Minutes(10);
  const std::string alice_token = UserToken(kAlice, start, absl::Minutes(10));
  const std::string bob_token = UserToken(kBob, start, absl::Hours(2));

  v1::SignInResponse signed_in;
  grpc::Status s = stub_->SignIn(Call(alice_token).get(), v1::SignInRequest(), &signed_in);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(signed_in.token_expires_at().seconds(), absl::ToUnixSeconds(exp));

  auto receive = std::make_unique<ReceiveClient>(*stub_, alice_token);
  ASSERT_TRUE(AwaitTracked(1));

  // Before exp the stream is served, and a re-check keeps it open.
  clock_.Advance(absl::Minutes(5));
  fe1_->client_security()->RecheckStreams();
  EXPECT_EQ(fe1_->client_security()->tracked_streams(), 1u);
  SendToAlice(bob_token, "before expiry");
  ASSERT_TRUE(receive->WaitMessages(1));
  EXPECT_EQ(receive->messages()[0].body(), "before expiry");
  EXPECT_EQ(receive->messages()[0].from(), kBob);

  // One minute past exp (still inside the verifier's clock skew, so only
  // the stream's expiry can end it); no trust change happens.
  clock_.Advance(absl::Minutes(6));
  fe1_->client_security()->RecheckStreams();
  grpc::Status ended = receive->AwaitEnd();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_EQ(ended.error_message(),
            absl::StrCat("token: token expired at ",
                         absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", exp, absl::UTCTimeZone())));
  tls::Rejection r = testing::FindRejection("bearer alice@contoso.test");
  EXPECT_EQ(r.listener, "client");
  EXPECT_EQ(r.method, absl::StrCat(kReceive, " (open stream cancelled)"));

  // Once the server has finished the call, a message for alice waits in her
  // queue instead of going to the closed stream.
  ASSERT_TRUE(AwaitTracked(0));
  EXPECT_EQ(SendToAlice(bob_token, "after expiry"), "queued");
  EXPECT_EQ(fe1_->frontend()->mailboxes().queued(kAlice), 1u);
  EXPECT_EQ(receive->messages().size(), 1u);
  receive.reset();

  // Her next stream, with a fresh token, gets it.
  const std::string fresh = UserToken(
      kAlice, absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now())), absl::Minutes(10));
  ReceiveClient next(*stub_, fresh);
  ASSERT_TRUE(next.WaitMessages(1));
  EXPECT_EQ(next.messages()[0].body(), "after expiry");
  EXPECT_EQ(fe1_->frontend()->mailboxes().queued(kAlice), 0u);
}

}  // namespace
}  // namespace trustfabric::node
