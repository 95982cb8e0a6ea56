// Attacks on the node services over real listeners: two domains of
// in-process nodes (node_env.h), each call made as the attacker would make
// it, asserting the status code and that the message names no node, address
// or relay path of either domain.
//
//   contoso.test:  registrar1, fe1 (outer tokens: signed), fe2 (outer
//                  tokens: unsigned allowed), edge1
//   fabrikam.test: registrar1, fe1, edge1
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/pki/encoding.h"
#include "common/tls/grpc_status.h"
#include "common/token/jws.h"
#include "common/token/mint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/node/message_rules.h"
#include "tests/server/node/node_env.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>

namespace trustfabric::node {
namespace {

using testing::ContosoState;
using testing::FabrikamState;
using testing::kContosoRealm;
using testing::kFabrikamRealm;
using testing::MakeClient;
using testing::NodeFiles;
using testing::TestNode;
using testing::WriteNode;

constexpr char kContosoApp[] = "c0c0c0c0-0000-4000-8000-00000000c0c0";
constexpr char kFabrikamApp[] = "f0f0f0f0-0000-4000-8000-00000000f0f0";
// A caller gets this many "no such recipient" answers before it is slowed
// down; the limiter's clock stands still, so no allowance comes back during
// a test.
constexpr size_t kProbeBurst = 3;
absl::Time ProbeClock() { return absl::FromUnixSeconds(1700000000); }

// Names and paths that must never reach a client or a partner.
const std::vector<std::string>& NodeNames() {
  static const auto* names = new std::vector<std::string>{"registrar1", "edge1", "fe1.",     "fe2.",
                                                          "127.0.0.1",  " via ", "relay to "};
  return *names;
}

void ExpectDisclosesNoNodes(const std::string& message) {
  for (const std::string& name : NodeNames()) {
    EXPECT_THAT(message, ::testing::Not(HasSubstr(name))) << "disclosed " << name;
  }
}

struct Domain {
  explicit Domain(const std::string& name) : pki(name) {}
  TestDomain pki;
  pki::IssuedCertificate app = testing::SelfSignedSigningCert("app1");
  std::string app_guid;
  std::string realm;
  std::unique_ptr<TestNode> registrar;
  std::unique_ptr<TestNode> fe1;
  std::unique_ptr<TestNode> fe2;
  std::unique_ptr<TestNode> edge;
  // Identity files by node name ("fe1").
  std::map<std::string, NodeFiles> files;
};

class NodeServicesAttackTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    contoso_ = new Domain("contoso.test");
    fabrikam_ = new Domain("fabrikam.test");
    contoso_->app_guid = kContosoApp;
    contoso_->realm = kContosoRealm;
    fabrikam_->app_guid = kFabrikamApp;
    fabrikam_->realm = kFabrikamRealm;
    for (Domain* d : {contoso_, fabrikam_}) {
      StartDomain(d, /*with_fe2=*/d == contoso_);
      if (HasFatalFailure()) return;
    }
    Install(contoso_, ContosoState(contoso_->pki, fabrikam_->pki, 1), *fabrikam_);
    Install(fabrikam_, FabrikamState(fabrikam_->pki, contoso_->pki, 1), *contoso_);
  }

  static void TearDownTestSuite() {
    delete contoso_;
    delete fabrikam_;
    delete dir_;
  }

  static void StartDomain(Domain* d, bool with_fe2) {
    const std::string& domain = d->pki.trust_domain();
    for (const auto& [role, name] :
         std::vector<std::pair<std::string, std::string>>{{"registrar", "registrar1"},
                                                          {"frontend", "fe1"},
                                                          {"frontend", "fe2"},
                                                          {"edge", "edge1"}}) {
      d->files.emplace(name,
                       WriteNode(d->pki, *dir_, absl::StrCat(domain, "/", name),
                                 d->pki.IssueNode(role, name, absl::StrCat(name, ".", domain))));
    }
    auto start = [&](const std::string& role, const std::string& name, const NodeFiles& f,
                     token::OuterTokenPolicy outer) {
      TestNode::Options o;
      o.role = role;
      o.trust_domain = domain;
      o.realm = d->realm;
      o.dns_name = absl::StrCat(name, ".", domain);
      o.certificate_file = f.certificate_file;
      o.key_file = f.key_file;
      o.outer_token = outer;
      o.probing.burst = kProbeBurst;
      o.probing.refill = absl::Hours(1);
      o.probing.clock = ProbeClock;
      std::unique_ptr<TestNode> node = TestNode::Start(o);
      EXPECT_NE(node, nullptr) << o.dns_name;
      return node;
    };
    d->registrar = start("registrar", "registrar1", d->files.at("registrar1"),
                         token::OuterTokenPolicy::kSigned);
    d->fe1 = start("frontend", "fe1", d->files.at("fe1"), token::OuterTokenPolicy::kSigned);
    if (with_fe2) {
      d->fe2 =
          start("frontend", "fe2", d->files.at("fe2"), token::OuterTokenPolicy::kUnsignedAllowed);
    }
    d->edge = start("edge", "edge1", d->files.at("edge1"), token::OuterTokenPolicy::kSigned);
    ASSERT_TRUE(d->registrar && d->fe1 && d->edge && (!with_fe2 || d->fe2));

    // Wiring, before any call reaches a node.
    v1::Endpoint registrar;
    registrar.set_address(d->registrar->internal_address());
    registrar.set_server_name(absl::StrCat("registrar1.", domain));
    v1::Endpoint edge;
    edge.set_address(d->edge->internal_address());
    edge.set_server_name(absl::StrCat("edge1.", domain));
    auto& addresses = *d->registrar->config().mutable_addresses();
    addresses[absl::StrCat("fe1.", domain)] = d->fe1->internal_address();
    if (d->fe2) addresses[absl::StrCat("fe2.", domain)] = d->fe2->internal_address();
    for (TestNode* fe : {d->fe1.get(), d->fe2.get()}) {
      if (fe == nullptr) continue;
      *fe->config().mutable_registrar() = registrar;
      *fe->config().mutable_edge() = edge;
    }
    *d->edge->config().mutable_registrar() = registrar;
  }

  // The domain's state with the partner edge's real federation address and
  // the domain's application registered as a token issuer that allows user
  // delegation, installed on every node of the domain.
  static void Install(Domain* d, v1::TrustSnapshot state, const Domain& partner) {
    state.mutable_peers(0)->mutable_endpoints(0)->set_address(partner.edge->federation_address());
    v1::RootAuthority* root = state.add_roots();
    root->set_name("app1-signing");
    root->set_trust_domain(d->pki.trust_domain());
    root->set_certificates_pem(d->app.certificate.ToPem());
    root->add_purposes(v1::TOKEN_SIGNING);
    v1::TokenIssuer* issuer = state.add_issuers();
    issuer->set_name("app1");
    issuer->set_registered_issuer_name(absl::StrCat(d->app_guid, "@", d->realm));
    issuer->add_signing_certificates_pem(d->app.certificate.ToPem());
    issuer->add_algorithms(v1::RS256);
    issuer->set_allow_user_delegation(true);
    for (TestNode* n : {d->registrar.get(), d->fe1.get(), d->fe2.get(), d->edge.get()}) {
      if (n != nullptr) testing::Install(&n->holder(), state);
    }
  }

  static token::MintOptions MintOptionsFor(const Domain& d, const std::string& host) {
    token::MintOptions o;
    o.issuer_id = d.app_guid;
    o.client_id = d.app_guid;
    o.realm = d.realm;
    o.host = host;
    o.lifetime = absl::Hours(1);
    return o;
  }

  static std::string UserToken(const Domain& d, const std::string& upn, bool sign_outer = true,
                               const std::string& fe = "fe1") {
    token::UserClaims user;
    user.upn = upn;
    absl::StatusOr<std::string> t = token::MintUserToken(
        MintOptionsFor(d, absl::StrCat(fe, ".", d.pki.trust_domain())),
        *token::SigningCredentials::Create(d.app.key, d.app.certificate), user, sign_outer);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }

  // A client of a front-end's client listener (server-authenticated TLS).
  static std::shared_ptr<grpc::Channel> ClientChannel(const Domain& d, const TestNode& fe,
                                                      const std::string& name) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = d.pki.RootPem();
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride(absl::StrCat(name, ".", d.pki.trust_domain()));
    return grpc::CreateCustomChannel(fe.client_address(), grpc::SslCredentials(ssl), args);
  }

  static std::unique_ptr<grpc::ClientContext> Call(const std::string& authorization) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!authorization.empty()) ctx->AddMetadata("authorization", authorization);
    return ctx;
  }

  static absl::StatusOr<v1::SignInResponse> SignIn(v1::FrontEnd::Stub& stub,
                                                   const std::string& token) {
    v1::SignInResponse r;
    grpc::Status s = stub.SignIn(Call("Bearer " + token).get(), v1::SignInRequest(), &r);
    if (!s.ok()) return tls::FromGrpcStatus(s);
    return r;
  }

  static absl::StatusOr<v1::SendResponse> Send(v1::FrontEnd::Stub& stub, const std::string& token,
                                               const std::string& to) {
    v1::SendRequest req;
    req.set_to(to);
    req.set_body("hello");
    v1::SendResponse r;
    grpc::Status s = stub.Send(Call("Bearer " + token).get(), req, &r);
    if (!s.ok()) return tls::FromGrpcStatus(s);
    return r;
  }

  // An empty request to `method` over `channel`, whatever its type.
  static absl::Status RawCall(const std::shared_ptr<grpc::Channel>& channel,
                              const std::string& method, const std::string& authorization) {
    grpc::GenericStub stub(channel);
    std::unique_ptr<grpc::ClientContext> ctx = Call(authorization);
    // An empty message: valid for every request type.
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    return tls::FromGrpcStatus(status);
  }

  // A node client of `d` with `files`' identity.
  static std::unique_ptr<testing::ClientSide> NodeClient(const Domain& d, const NodeFiles& files) {
    const Domain& partner = &d == contoso_ ? *fabrikam_ : *contoso_;
    v1::TrustSnapshot state =
        &d == contoso_ ? ContosoState(d.pki, partner.pki, 1) : FabrikamState(d.pki, partner.pki, 1);
    return MakeClient(d.pki.trust_domain(), state, files);
  }

  static tls::Target Internal(const Domain& d, const TestNode& n, const std::string& name,
                              pki::Role role) {
    return {n.internal_address(), absl::StrCat(name, ".", d.pki.trust_domain()),
            d.pki.trust_domain(), {role}};
  }

  static absl::Status Relay(testing::ClientSide& client, const tls::Target& target,
                            const std::string& from, const std::string& to,
                            v1::RelayResponse* out = nullptr) {
    v1::RelayRequest req;
    req.mutable_message()->set_id(NewMessageId());
    req.mutable_message()->set_from(from);
    req.mutable_message()->set_to(to);
    req.mutable_message()->set_body("relayed");
    v1::RelayResponse resp;
    grpc::Status s = v1::Edge::NewStub(client.channels->Get(target))
                         ->Relay(Call("").get(), req, out != nullptr ? out : &resp);
    return tls::FromGrpcStatus(s);
  }

  static TempDir* dir_;
  static Domain* contoso_;
  static Domain* fabrikam_;
};

TempDir* NodeServicesAttackTest::dir_ = nullptr;
Domain* NodeServicesAttackTest::contoso_ = nullptr;
Domain* NodeServicesAttackTest::fabrikam_ = nullptr;

// --- Edge/Relay -------------------------------------------------------------

TEST_F(NodeServicesAttackTest, FederationRelayRefusesSendersOfAThirdOrTheLocalDomain) {
  // fabrikam's real edge identity, dialing contoso's federation listener.
  std::unique_ptr<testing::ClientSide> fabrikam_edge =
      NodeClient(*fabrikam_, fabrikam_->files.at("edge1"));
  const tls::Target contoso_federation{contoso_->edge->federation_address(), "edge1.contoso.test",
                                       "contoso.test", {pki::Role::kEdge}};
  // alice is registered, so only the sender rule can refuse these.
  auto fe1 = ClientChannel(*contoso_, *contoso_->fe1, "fe1");
  auto stub = v1::FrontEnd::NewStub(fe1);
  ASSERT_TRUE(SignIn(*stub, UserToken(*contoso_, "alice-relay@contoso.test")).ok());

  absl::Status third =
      Relay(*fabrikam_edge, contoso_federation, "carol@northwind.test", "alice-relay@contoso.test");
  EXPECT_EQ(third.code(), absl::StatusCode::kPermissionDenied) << third;
  EXPECT_EQ(third.message(),
            "message.from: carol@northwind.test is not a user of the calling domain "
            "fabrikam.test");
  ExpectDisclosesNoNodes(std::string(third.message()));

  absl::Status local =
      Relay(*fabrikam_edge, contoso_federation, "ceo@contoso.test", "alice-relay@contoso.test");
  EXPECT_EQ(local.code(), absl::StatusCode::kPermissionDenied) << local;
  EXPECT_EQ(local.message(),
            "message.from: ceo@contoso.test is not a user of the calling domain fabrikam.test");

  // The rule, not the path, refused them: a fabrikam sender gets through.
  v1::RelayResponse accepted;
  absl::Status ok = Relay(*fabrikam_edge, contoso_federation, "bob@fabrikam.test",
                          "alice-relay@contoso.test", &accepted);
  ASSERT_TRUE(ok.ok()) << ok;
  EXPECT_EQ(accepted.disposition(), "queued");
}

TEST_F(NodeServicesAttackTest, InternalRelayRefusesSendersOfAnotherDomain) {
  std::unique_ptr<testing::ClientSide> fe1 = NodeClient(*contoso_, contoso_->files.at("fe1"));
  absl::Status s = Relay(*fe1, Internal(*contoso_, *contoso_->edge, "edge1", pki::Role::kEdge),
                         "bob@fabrikam.test", "carol@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_EQ(s.message(), "message.from: bob@fabrikam.test is not a user of contoso.test");
}

TEST_F(NodeServicesAttackTest, PartnerLearnsNoNodeNamesFromAFailedInboundRelay) {
  std::unique_ptr<testing::ClientSide> contoso_edge =
      NodeClient(*contoso_, contoso_->files.at("edge1"));
  const tls::Target fabrikam_federation{fabrikam_->edge->federation_address(),
                                        "edge1.fabrikam.test", "fabrikam.test", {pki::Role::kEdge}};
  absl::Status s =
      Relay(*contoso_edge, fabrikam_federation, "alice@contoso.test", "nobody@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_EQ(s.message(), "message.to: no such recipient nobody@fabrikam.test");
  ExpectDisclosesNoNodes(std::string(s.message()));
}

// --- The bearer (client) listener -------------------------------------------

TEST_F(NodeServicesAttackTest, ClientListenerServesOnlySignInSendAndReceive) {
  auto channel = ClientChannel(*contoso_, *contoso_->fe1, "fe1");
  const std::string bearer = "Bearer " + UserToken(*contoso_, "alice-methods@contoso.test");
  const std::string refused[] = {
      "/trustfabric.v1.FrontEnd/Deliver",
      "/grpc.health.v1.Health/Check",
      "/grpc.health.v1.Health/Watch",
      "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
      "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
      "/trustfabric.v1.Registrar/Register",
      "/trustfabric.v1.Edge/Relay",
      "/trustfabric.v1.TrustDistribution/Watch",
      "/no.such.Service/Method",
  };
  for (const std::string& method : refused) {
    for (const std::string& authorization : {bearer, std::string()}) {
      absl::Status s = RawCall(channel, method, authorization);
      EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << method << ": " << s;
      EXPECT_EQ(s.message(), absl::StrCat("policy: ", method,
                                          " is not served on the client "
                                          "listener"));
    }
  }
  // A typed Deliver with a valid token and message: refused, not delivered.
  auto stub = v1::FrontEnd::NewStub(channel);
  v1::DeliverRequest deliver;
  deliver.mutable_message()->set_id("forged-1");
  deliver.mutable_message()->set_from("ceo@contoso.test");
  deliver.mutable_message()->set_to("alice-methods@contoso.test");
  deliver.mutable_message()->set_body("wire the money");
  v1::DeliverResponse delivered;
  grpc::Status s = stub->Deliver(Call(bearer).get(), deliver, &delivered);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(delivered.disposition(), "");
}

TEST_F(NodeServicesAttackTest, ClientListenerRefusesAnythingButABearerToken) {
  auto channel = ClientChannel(*contoso_, *contoso_->fe1, "fe1");
  auto stub = v1::FrontEnd::NewStub(channel);
  const std::string token = UserToken(*contoso_, "alice-auth@contoso.test");
  const std::string secret = "YWxpY2U6aHVudGVyMg";  // base64 "alice:hunter2"
  struct Case {
    std::string authorization;
    std::string reason;
  } cases[] = {
      {"", "token: missing authorization: bearer token"},
      {"Basic " + secret, "token: authorization is not a bearer token"},
      {"Token " + token, "token: authorization is not a bearer token"},
      {token, "token: authorization is not a bearer token"},
      {"Bearer", "token: authorization is not a bearer token"},
      {"Bearer " + secret, ""},
      {"Bearer " + secret + "." + secret + "." + secret, ""},
      {"Bearer " + std::string(6000, 'A'), ""},
      {"Bearer " + token + "x", ""},
      {"Bearer " + token + "." + secret, ""},
  };
  for (const Case& c : cases) {
    v1::SignInResponse r;
    grpc::Status g = stub->SignIn(Call(c.authorization).get(), v1::SignInRequest(), &r);
    absl::Status s = tls::FromGrpcStatus(g);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated) << c.authorization.substr(0, 40);
    if (!c.reason.empty()) {
      EXPECT_EQ(s.message(), c.reason);
    }
    EXPECT_TRUE(absl::StartsWith(s.message(), "token: ")) << s;
    // Nothing of what was presented comes back.
    EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr(secret)));
    EXPECT_THAT(std::string(s.message()), ::testing::Not(HasSubstr(token.substr(0, 20))));
    EXPECT_LT(s.message().size(), 200u) << s;
    EXPECT_EQ(r.user(), "");
  }
}

TEST_F(NodeServicesAttackTest, ClientListenerRefusesAppOnlyTokensAndOtherDomainsUsers) {
  auto stub = v1::FrontEnd::NewStub(ClientChannel(*contoso_, *contoso_->fe1, "fe1"));
  absl::StatusOr<std::string> app_only = token::MintAppOnlyToken(
      MintOptionsFor(*contoso_, "fe1.contoso.test"),
      *token::SigningCredentials::Create(contoso_->app.key, contoso_->app.certificate));
  ASSERT_TRUE(app_only.ok());
  absl::StatusOr<v1::SignInResponse> r = SignIn(*stub, *app_only);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(r.status().message(),
            "token: an app-only token names no user; sign in with a user+app token");

  // contoso's application naming a fabrikam user.
  r = SignIn(*stub, UserToken(*contoso_, "bob@fabrikam.test"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kPermissionDenied) << r.status();
  EXPECT_EQ(r.status().message(), "token: user bob@fabrikam.test is not a user of contoso.test");

  // fabrikam's application, for fabrikam's realm, at contoso's front-end.
  token::UserClaims bob;
  bob.upn = "bob@fabrikam.test";
  absl::StatusOr<std::string> foreign = token::MintUserToken(
      MintOptionsFor(*fabrikam_, "fe1.contoso.test"),
      *token::SigningCredentials::Create(fabrikam_->app.key, fabrikam_->app.certificate), bob,
      /*sign_outer=*/true);
  ASSERT_TRUE(foreign.ok());
  r = SignIn(*stub, *foreign);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  ExpectDisclosesNoNodes(std::string(r.status().message()));

  // Neither was registered.
  EXPECT_FALSE(contoso_->registrar->registry()->Lookup("bob@fabrikam.test").ok());
}

TEST_F(NodeServicesAttackTest, RewrittenOuterTokenIsRefusedUnderTheSignedPolicy) {
  auto fe1 = v1::FrontEnd::NewStub(ClientChannel(*contoso_, *contoso_->fe1, "fe1"));
  auto fe2 = v1::FrontEnd::NewStub(ClientChannel(*contoso_, *contoso_->fe2, "fe2"));
  // The attacker holds one unsigned user token of app1 and names another
  // user around its (valid) actor token.
  auto rewrite = [](const std::string& token, const std::string& upn) {
    absl::StatusOr<token::CompactJws> outer = token::ParseCompactJws(token);
    EXPECT_TRUE(outer.ok());
    token::Json payload = outer->payload;
    payload.Set("upn", token::Json::String(upn));
    return *token::SignCompactJws(
        token::MakeTokenHeader(token::JwsAlgorithm::kNone, nullptr, false, false), payload,
        nullptr);
  };
  const std::string forged_fe1 =
      rewrite(UserToken(*contoso_, "mallory@contoso.test", false, "fe1"), "ceo-1@contoso.test");
  absl::StatusOr<v1::SignInResponse> r = SignIn(*fe1, forged_fe1);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated) << r.status();
  EXPECT_EQ(r.status().message(),
            "token: unsigned outer token is not accepted (outer token policy: signed)");
  absl::StatusOr<v1::SendResponse> sent = Send(*fe1, forged_fe1, "alice@contoso.test");
  EXPECT_EQ(sent.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_FALSE(contoso_->registrar->registry()->Lookup("ceo-1@contoso.test").ok());

  // A signed outer token rewritten the same way fails its signature.
  const std::string signed_token = UserToken(*contoso_, "mallory@contoso.test", true, "fe1");
  absl::StatusOr<token::CompactJws> outer = token::ParseCompactJws(signed_token);
  ASSERT_TRUE(outer.ok());
  token::Json payload = outer->payload;
  payload.Set("upn", token::Json::String("ceo-1@contoso.test"));
  const std::string tampered = absl::StrCat(pki::Base64UrlEncode(outer->header.Serialize()), ".",
                                            pki::Base64UrlEncode(payload.Serialize()), ".",
                                            pki::Base64UrlEncode(outer->signature));
  r = SignIn(*fe1, tampered);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(r.status().message(), "token: signature invalid");
  // The honest signed token works.
  r = SignIn(*fe1, signed_token);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user(), "mallory@contoso.test");

  // The trade-off of UNSIGNED_ALLOWED (fe2): the same forgery is accepted as
  // the other user (docs/outer-token.md).
  r = SignIn(*fe2, rewrite(UserToken(*contoso_, "mallory@contoso.test", false, "fe2"),
                           "ceo-2@contoso.test"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->user(), "ceo-2@contoso.test");
}

// --- Registrar ----------------------------------------------------------------

TEST_F(NodeServicesAttackTest, RegistrarRefusesChangesToAnotherFrontEndsUser) {
  std::unique_ptr<testing::ClientSide> fe1 = NodeClient(*contoso_, contoso_->files.at("fe1"));
  std::unique_ptr<testing::ClientSide> fe2 = NodeClient(*contoso_, contoso_->files.at("fe2"));
  std::unique_ptr<testing::ClientSide> edge = NodeClient(*contoso_, contoso_->files.at("edge1"));
  const tls::Target registrar =
      Internal(*contoso_, *contoso_->registrar, "registrar1", pki::Role::kRegistrar);
  Registry* registry = contoso_->registrar->registry();
  auto reg = [&](testing::ClientSide& c, const std::string& user, const std::string& frontend) {
    v1::RegisterRequest req;
    req.set_user(user);
    req.set_frontend(frontend);
    v1::RegisterResponse resp;
    return tls::FromGrpcStatus(
        v1::Registrar::NewStub(c.channels->Get(registrar))->Register(Call("").get(), req, &resp));
  };
  auto unreg = [&](testing::ClientSide& c, const std::string& user) {
    v1::UnregisterRequest req;
    req.set_user(user);
    v1::UnregisterResponse resp;
    return tls::FromGrpcStatus(
        v1::Registrar::NewStub(c.channels->Get(registrar))->Unregister(Call("").get(), req, &resp));
  };
  const std::string dave = "dave-reg@contoso.test";
  ASSERT_TRUE(reg(*fe1, dave, "").ok());
  ASSERT_EQ(registry->Lookup(dave)->frontend, "fe1.contoso.test");

  // fe2 may not register a user for fe1, nor drop fe1's user.
  absl::Status s = reg(*fe2, dave, "fe1.contoso.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_EQ(s.message(), "frontend: fe2.contoso.test may not register users for fe1.contoso.test");
  s = unreg(*fe2, dave);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_EQ(registry->Lookup(dave)->frontend, "fe1.contoso.test");
  // An edge changes no registration at all.
  s = reg(*edge, dave, "");
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  s = unreg(*edge, dave);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_EQ(registry->Lookup(dave)->frontend, "fe1.contoso.test");

  // The documented takeover: a newer sign-in at fe2 moves dave there, after
  // which fe1 is the other front-end.
  ASSERT_TRUE(reg(*fe2, dave, "").ok());
  EXPECT_EQ(registry->Lookup(dave)->frontend, "fe2.contoso.test");
  EXPECT_EQ(registry->Lookup(dave)->frontend_address, contoso_->fe2->internal_address());
  s = unreg(*fe1, dave);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
  EXPECT_EQ(registry->Lookup(dave)->frontend, "fe2.contoso.test");
  ASSERT_TRUE(unreg(*fe2, dave).ok());
  EXPECT_EQ(registry->Lookup(dave).status().code(), absl::StatusCode::kNotFound);
}

// --- Send: what a client learns about other domains ---------------------------

TEST_F(NodeServicesAttackTest, SendToAnUnknownPartnerUserRevealsNoHostName) {
  auto contoso_fe = v1::FrontEnd::NewStub(ClientChannel(*contoso_, *contoso_->fe1, "fe1"));
  auto fabrikam_fe = v1::FrontEnd::NewStub(ClientChannel(*fabrikam_, *fabrikam_->fe1, "fe1"));
  const std::string alice = UserToken(*contoso_, "alice-leak@contoso.test");
  ASSERT_TRUE(SignIn(*contoso_fe, alice).ok());
  ASSERT_TRUE(SignIn(*fabrikam_fe, UserToken(*fabrikam_, "bob-leak@fabrikam.test")).ok());

  // The whole path works: a known partner user gets the message.
  absl::StatusOr<v1::SendResponse> sent = Send(*contoso_fe, alice, "bob-leak@fabrikam.test");
  ASSERT_TRUE(sent.ok()) << sent.status();
  EXPECT_EQ(sent->disposition(), "queued");

  for (const std::string to :
       {"nobody@fabrikam.test", "nobody@contoso.test", "someone@northwind.test"}) {
    sent = Send(*contoso_fe, alice, to);
    EXPECT_EQ(sent.status().code(), absl::StatusCode::kNotFound) << to << ": " << sent.status();
    EXPECT_EQ(sent.status().message(), absl::StrCat("to: no such recipient ", to));
    ExpectDisclosesNoNodes(std::string(sent.status().message()));
  }
}

TEST_F(NodeServicesAttackTest, ProbingForUserNamesIsRateLimitedPerCaller) {
  auto fe = v1::FrontEnd::NewStub(ClientChannel(*contoso_, *contoso_->fe1, "fe1"));
  auto fabrikam_fe = v1::FrontEnd::NewStub(ClientChannel(*fabrikam_, *fabrikam_->fe1, "fe1"));
  ASSERT_TRUE(SignIn(*fabrikam_fe, UserToken(*fabrikam_, "bob-probe@fabrikam.test")).ok());
  const std::string prober = UserToken(*contoso_, "prober@contoso.test");
  const std::string honest = UserToken(*contoso_, "honest@contoso.test");
  for (size_t i = 0; i < kProbeBurst; ++i) {
    absl::StatusOr<v1::SendResponse> sent =
        Send(*fe, prober, absl::StrCat("guess", i, "@fabrikam.test"));
    ASSERT_EQ(sent.status().code(), absl::StatusCode::kNotFound) << i << ": " << sent.status();
  }
  // Past the allowance every Send of the prober is refused, to a known
  // recipient too: the refusal tells nothing about the name.
  for (const std::string to :
       {"guess9@fabrikam.test", "bob-probe@fabrikam.test", "guess9@contoso.test"}) {
    absl::StatusOr<v1::SendResponse> sent = Send(*fe, prober, to);
    EXPECT_EQ(sent.status().code(), absl::StatusCode::kResourceExhausted) << to;
    // No allowance comes back for an hour.
    EXPECT_EQ(sent.status().message(), "too many unknown recipients; retry after 3600s");
  }
  // Another user of the same front-end is not affected.
  absl::StatusOr<v1::SendResponse> sent = Send(*fe, honest, "bob-probe@fabrikam.test");
  ASSERT_TRUE(sent.ok()) << sent.status();
}

}  // namespace
}  // namespace trustfabric::node
