// Open streams end when what admitted them stops holding, against real
// in-process gRPC servers: every long-lived call is tracked (gRPC's health
// Watch and reflection included), re-checked after trust changes and at the
// expiry of its certificate or bearer token (injected clock), and a change
// that lands while a stream is being opened still reaches it. Also: refused
// peers are logged as claimed, never as the identity they claim; their
// control characters are escaped; clients check the server's role.
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/pki/issue.h"
#include "common/tls/client_security.h"
#include "common/tls/rejections.h"
#include "common/tls/server_security.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.pb.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/base_sink.h"
#include "spdlog/sinks/stdout_color_sinks.h"
#include "spdlog/spdlog.h"
#include "tests/common/tls/tls_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/movable_clock.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"
#include "trustfabric/v1/control.grpc.pb.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace trustfabric::testing {
namespace {

constexpr char kWatch[] = "/trustfabric.v1.TrustDistribution/Watch";
constexpr char kHealthWatch[] = "/grpc.health.v1.Health/Watch";
constexpr char kReflection[] = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo";
// Long enough that a stream left open by a regression fails the test by its
// deadline instead of hanging it.
constexpr auto kStreamDeadline = std::chrono::seconds(30);

// Keeps every log line (the payload, as the sink receives it).
class CaptureSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::vector<std::string> Lines() {
    std::lock_guard<std::mutex> lock(mutex_);
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    lines_.emplace_back(msg.payload.data(), msg.payload.size());
  }
  void flush_() override {}

 private:
  std::vector<std::string> lines_;
};

// A streaming call by method name with raw request bytes (the reflection
// .proto is not part of the build; the health one is): sends one request,
// reads, and waits for the end.
class RawStream {
 public:
  RawStream(const std::shared_ptr<grpc::Channel>& channel, const std::string& method,
            const std::string& request, bool half_close, const std::string& authorization = "") {
    ctx_.set_deadline(std::chrono::system_clock::now() + kStreamDeadline);
    if (!authorization.empty()) ctx_.AddMetadata("authorization", authorization);
    grpc::GenericStub stub(channel);
    call_ = stub.PrepareCall(&ctx_, method, &cq_);
    call_->StartCall(Tag(1));
    Next(1);
    grpc::Slice slice(request);
    call_->Write(grpc::ByteBuffer(&slice, 1), Tag(2));
    Next(2);
    if (half_close) {
      call_->WritesDone(Tag(3));
      Next(3);
    }
  }
  ~RawStream() {
    if (!finished_) {
      ctx_.TryCancel();
      AwaitEnd();
    }
    call_.reset();
    cq_.Shutdown();
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) {
    }
  }

  // One message from the server; false when the stream has ended.
  bool Read() {
    grpc::ByteBuffer message;
    call_->Read(&message, Tag(4));
    return Next(4);
  }

  // Reads until the server ends the stream; its status.
  grpc::Status AwaitEnd() {
    while (Read()) {
    }
    grpc::Status status;
    call_->Finish(&status, Tag(5));
    Next(5);
    finished_ = true;
    return status;
  }

 private:
  static void* Tag(intptr_t n) { return reinterpret_cast<void*>(n); }
  bool Next(intptr_t want) {
    void* tag = nullptr;
    bool ok = false;
    EXPECT_TRUE(cq_.Next(&tag, &ok));
    EXPECT_EQ(tag, Tag(want));
    return ok;
  }

  grpc::ClientContext ctx_;
  grpc::CompletionQueue cq_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool finished_ = false;
};

// HealthCheckRequest{service: ""} and ServerReflectionRequest{list_services: ""}.
const std::string kHealthRequest = grpc::health::v1::HealthCheckRequest().SerializeAsString();
const std::string kListServices("\x3a\x00", 2);

// The TrustDistribution.Watch of the test server: one keepalive, then open.
class WatchStream {
 public:
  explicit WatchStream(const std::shared_ptr<grpc::Channel>& channel)
      : stub_(v1::TrustDistribution::NewStub(channel)) {
    ctx_.set_deadline(std::chrono::system_clock::now() + kStreamDeadline);
    stream_ = stub_->Watch(&ctx_);
  }
  ~WatchStream() {
    if (!finished_) {
      ctx_.TryCancel();
      AwaitEnd();
    }
  }
  bool Read() {
    v1::WatchResponse response;
    return stream_->Read(&response);
  }
  grpc::Status AwaitEnd() {
    while (Read()) {
    }
    finished_ = true;
    return stream_->Finish();
  }

 private:
  std::unique_ptr<v1::TrustDistribution::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WatchRequest, v1::WatchResponse>> stream_;
  bool finished_ = false;
};

// `base` re-signed with its own key after its SANs were replaced by `dns`
// and `uri`, written as they are (tests of hostile SANs the issuer refuses).
pki::Certificate WithRawSans(const pki::IssuedCertificate& base, const std::string& dns,
                             const std::string& uri) {
  std::unique_ptr<X509, decltype(&X509_free)> x509(X509_dup(base.certificate.get()), X509_free);
  EXPECT_NE(x509, nullptr);
  int index = X509_get_ext_by_NID(x509.get(), NID_subject_alt_name, -1);
  if (index >= 0) X509_EXTENSION_free(X509_delete_ext(x509.get(), index));
  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> names(sk_GENERAL_NAME_new_null(),
                                                                      GENERAL_NAMES_free);
  for (const auto& [type, value] : {std::pair<int, std::string>{GEN_DNS, dns}, {GEN_URI, uri}}) {
    GENERAL_NAME* name = GENERAL_NAME_new();
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    ASN1_STRING_set(text, value.data(), static_cast<int>(value.size()));
    GENERAL_NAME_set0_value(name, type, text);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  EXPECT_EQ(X509_add1_ext_i2d(x509.get(), NID_subject_alt_name, names.get(), 0,
                              X509V3_ADD_DEFAULT),
            1);
  EXPECT_GT(X509_sign(x509.get(), base.key.get(), EVP_sha256()), 0);
  return pki::Certificate::FromX509(x509.get());
}

// Expects `ended`, how a stream ended, to be UNAUTHENTICATED with a message
// matching `message`, and the server to have logged the rejection of
// `needle` for `method` as "<method> (open stream cancelled)"; returns that
// rejection.
tls::Rejection ExpectCancelled(const grpc::Status& ended,
                               const ::testing::Matcher<const std::string&>& message,
                               const std::string& needle, absl::string_view method) {
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::UNAUTHENTICATED) << ended.error_message();
  EXPECT_THAT(ended.error_message(), message);
  tls::Rejection r = FindRejection(needle);
  EXPECT_EQ(r.method, absl::StrCat(method, " (open stream cancelled)"));
  return r;
}

class StreamTrackingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    contoso_ = new TestDomain("contoso.test");
    fabrikam_ = new TestDomain("fabrikam.test");
    second_ca_ = new TestDomain("contoso.test");  // a second MTLS root of contoso
    // Before any server runs: every log line also goes to the capture.
    capture_ = new std::shared_ptr<CaptureSink>(std::make_shared<CaptureSink>());
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "capture", spdlog::sinks_init_list{*capture_,
                                           std::make_shared<spdlog::sinks::stderr_color_sink_mt>()}));
  }

  void SetUp() override {
    Install(&holder_, StateWithSecondRoot());
    source_ = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr,
                                                 [this] { return clock_.Now(); });
    server_identity_.emplace(WriteNode(*contoso_, dir_, "edge1",
                                       contoso_->IssueNode("edge", "edge1", "edge1.contoso.test")));
    TestServerOptions options;
    options.bearer_authenticator = [this](absl::string_view method,
                                          absl::string_view authorization) {
      return AuthenticateBearer(method, authorization);
    };
    server_ = std::make_unique<TestServer>(source_, *server_identity_, options);
  }

  // contoso's state plus a second MTLS root; RemoveSecondRoot() revokes
  // every peer under it without depending on how revocations are keyed.
  v1::TrustSnapshot StateWithSecondRoot() const {
    v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
    *state.add_roots() = MtlsRoot("contoso-second-root", *second_ca_);
    return state;
  }
  void RemoveSecondRoot() {
    v1::TrustSnapshot state = ContosoState(*contoso_, *fabrikam_, 1);
    state.set_revision(holder_.Get()->revision() + 1);
    Install(&holder_, std::move(state));
  }

  // The test's bearer tokens: "Bearer <user>;exp=<unix seconds>", good for
  // TrustDistribution.Watch and Health.Watch until exp (test clock).
  absl::StatusOr<tls::CallAuthentication> AuthenticateBearer(absl::string_view method,
                                                            absl::string_view authorization) const {
    if (method != kWatch && method != kHealthWatch) {
      return absl::PermissionDeniedError("policy: not served on the client listener");
    }
    if (!absl::ConsumePrefix(&authorization, "Bearer ")) {
      return absl::UnauthenticatedError("token: missing bearer token");
    }
    std::pair<absl::string_view, absl::string_view> parts =
        absl::StrSplit(authorization, absl::MaxSplits(";exp=", 1));
    int64_t exp = 0;
    if (!absl::SimpleAtoi(parts.second, &exp)) {
      return absl::UnauthenticatedError("token: malformed");
    }
    const absl::Time expires = absl::FromUnixSeconds(exp);
    if (clock_.Now() >= expires) return absl::UnauthenticatedError("token: expired");
    return tls::CallAuthentication{expires, std::string(parts.first)};
  }

  tls::Target Internal() const {
    return {server_->internal_address(), "edge1.contoso.test", "contoso.test", {pki::Role::kEdge}};
  }

  // A channel of a contoso peer presenting `leaf` of `domain`.
  std::shared_ptr<grpc::Channel> MutualChannel(const TestDomain& domain,
                                               const pki::IssuedCertificate& leaf,
                                               const std::string& name) {
    clients_.push_back(MakeClient("contoso.test", StateWithSecondRoot(),
                                  WriteNode(domain, dir_, name, leaf)));
    return clients_.back()->channels->NewChannel(Internal());
  }

  // A channel of contoso frontend `name` (<name>.contoso.test) whose
  // certificate expires `valid_for` from now.
  std::shared_ptr<grpc::Channel> ExpiringChannel(const std::string& name,
                                                 absl::Duration valid_for) {
    LeafOptions expiring;
    expiring.not_after = absl::Now() + valid_for;
    return MutualChannel(
        *contoso_, contoso_->IssueNode("frontend", name, name + ".contoso.test", expiring), name);
  }

  // A channel to the bearer-token listener (server-authenticated TLS).
  std::shared_ptr<grpc::Channel> BearerChannel() const {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = contoso_->RootPem();
    grpc::ChannelArguments args;
    args.SetSslTargetNameOverride("edge1.contoso.test");
    return grpc::CreateCustomChannel(server_->client_address(), grpc::SslCredentials(ssl), args);
  }

  // Waits (bounded) until `security` tracks `n` streams.
  static void AwaitTracked(const tls::ListenerSecurity& security, size_t n) {
    EXPECT_TRUE(testing::Eventually([&]() -> ::testing::AssertionResult {
      const size_t tracked = security.tracked_streams();
      if (tracked == n) return ::testing::AssertionSuccess();
      return ::testing::AssertionFailure() << tracked << " tracked streams, want " << n;
    }));
  }

  static TestDomain* contoso_;
  static TestDomain* fabrikam_;
  static TestDomain* second_ca_;
  static std::shared_ptr<CaptureSink>* capture_;
  TempDir dir_;
  MovableClock clock_;
  trust::SnapshotHolder holder_;
  std::shared_ptr<tls::TrustSource> source_;
  std::optional<NodeFiles> server_identity_;
  std::vector<std::unique_ptr<ClientSide>> clients_;
  std::unique_ptr<TestServer> server_;
};

TestDomain* StreamTrackingTest::contoso_ = nullptr;
TestDomain* StreamTrackingTest::fabrikam_ = nullptr;
TestDomain* StreamTrackingTest::second_ca_ = nullptr;
std::shared_ptr<CaptureSink>* StreamTrackingTest::capture_ = nullptr;

TEST_F(StreamTrackingTest, HealthWatchOfPeerNoLongerTrustedIsCancelled) {
  auto channel = MutualChannel(
      *second_ca_, second_ca_->IssueNode("frontend", "fe-h1", "fe-h1.contoso.test"), "fe-h1");
  RawStream health(channel, kHealthWatch, kHealthRequest, /*half_close=*/true);
  ASSERT_TRUE(health.Read());  // SERVING
  AwaitTracked(server_->internal(), 1);

  RemoveSecondRoot();
  tls::Rejection r =
      ExpectCancelled(health.AwaitEnd(), StartsWith("chain: "), "fe-h1.contoso.test", kHealthWatch);
  EXPECT_EQ(r.rule, "chain");
  // The ended call is no longer tracked (its reference is released).
  AwaitTracked(server_->internal(), 0);
}

TEST_F(StreamTrackingTest, ReflectionStreamOfPeerNoLongerTrustedIsCancelled) {
  auto channel = MutualChannel(
      *second_ca_, second_ca_->IssueNode("admin", "ops1", "ops1.contoso.test"), "ops1");
  RawStream reflection(channel, kReflection, kListServices, /*half_close=*/false);
  ASSERT_TRUE(reflection.Read());  // the service list
  AwaitTracked(server_->internal(), 1);

  RemoveSecondRoot();
  ExpectCancelled(reflection.AwaitEnd(), ::testing::_, "ops1.contoso.test", kReflection);
}

TEST_F(StreamTrackingTest, MutualTlsStreamEndsAtCertificateNotAfter) {
  WatchStream watch(ExpiringChannel("fe-exp", absl::Hours(1)));
  ASSERT_TRUE(watch.Read());
  AwaitTracked(server_->internal(), 1);

  // No trust change: only time passes. The listener's checker wakes on its
  // own (RecheckStreams is not called).
  clock_.Advance(absl::Hours(2));
  tls::Rejection r = ExpectCancelled(watch.AwaitEnd(), HasSubstr("chain: certificate has expired"),
                                     "fe-exp.contoso.test", kWatch);
  EXPECT_EQ(r.peer, "spiffe://contoso.test/frontend/fe-exp (fe-exp.contoso.test)");
}

TEST_F(StreamTrackingTest, StreamBeforeNotAfterStaysOpenOnRecheck) {
  WatchStream watch(ExpiringChannel("fe-ok", absl::Hours(3)));
  ASSERT_TRUE(watch.Read());
  AwaitTracked(server_->internal(), 1);
  clock_.Advance(absl::Hours(2));
  server_->internal().RecheckStreams();
  EXPECT_EQ(FindRejection("fe-ok.contoso.test").rule, "");
  EXPECT_EQ(server_->internal().tracked_streams(), 1u);
}

TEST_F(StreamTrackingTest, BearerStreamEndsAtTokenExp) {
  const absl::Time exp = absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now())) +
                         absl::Minutes(10);
  RawStream health(BearerChannel(), kHealthWatch, kHealthRequest, /*half_close=*/true,
                   absl::StrCat("Bearer alice@contoso.test;exp=", absl::ToUnixSeconds(exp)));
  ASSERT_TRUE(health.Read());
  AwaitTracked(server_->client(), 1);

  clock_.Advance(absl::Minutes(5));
  server_->client().RecheckStreams();  // still valid: stays open
  EXPECT_EQ(server_->client().tracked_streams(), 1u);

  clock_.Advance(absl::Minutes(6));
  tls::Rejection r = ExpectCancelled(health.AwaitEnd(), HasSubstr("token: token expired"),
                                     "bearer alice@contoso.test", kHealthWatch);
  EXPECT_EQ(r.listener, "client");
}

TEST_F(StreamTrackingTest, TrustChangeBetweenVerificationAndTrackingStillCancels) {
  // The call passes the per-call check; the root is removed after it and
  // before the stream is tracked.
  std::atomic<bool> removed{false};
  server_->internal().SetBeforeTrackHookForTesting([&](absl::string_view method) {
    if (method == kWatch && !removed.exchange(true)) RemoveSecondRoot();
  });
  auto channel = MutualChannel(
      *second_ca_, second_ca_->IssueNode("frontend", "fe-race", "fe-race.contoso.test"),
      "fe-race");
  WatchStream watch(channel);
  grpc::Status s = watch.AwaitEnd();
  server_->internal().SetBeforeTrackHookForTesting(nullptr);
  EXPECT_TRUE(removed.load());
  ExpectCancelled(s, StartsWith("chain: "), "fe-race.contoso.test", kWatch);
}

TEST_F(StreamTrackingTest, SelfSignedCertificateClaimingPartnerEdgeIsLoggedAsClaimed) {
  auto self_signed = [](const std::string& name) {
    pki::CertificateSpec spec;
    spec.common_name = absl::StrCat(name, ".fabrikam.test");
    spec.dns_names = {absl::StrCat(name, ".fabrikam.test")};
    spec.uri_names = {absl::StrCat("spiffe://fabrikam.test/edge/", name)};
    absl::StatusOr<pki::IssuedCertificate> issued = pki::Issue(spec, nullptr);
    EXPECT_TRUE(issued.ok()) << issued.status();
    return *issued;
  };
  const tls::Target federation{server_->federation_address(), "edge1.contoso.test", "contoso.test",
                               {pki::Role::kEdge}};
  // edge1 is on contoso's trusted server list; edge9 is not.
  for (const std::string name : {"edge1", "edge9"}) {
    SCOPED_TRACE(name);
    pki::IssuedCertificate forged = self_signed(name);
    NodeFiles files{forged, dir_.Write(absl::StrCat("forged-", name, "/node.crt"),
                                       forged.certificate.ToPem()),
                    dir_.Write(absl::StrCat("forged-", name, "/node.key"), forged.key.ToPem(),
                               0600)};
    auto client = MakeClient("fabrikam.test", FabrikamState(*fabrikam_, *contoso_, 1), files);
    auto stub = v1::Edge::NewStub(client->channels->NewChannel(federation));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RelayResponse resp;
    EXPECT_EQ(stub->Relay(&ctx, v1::RelayRequest(), &resp).error_code(),
              grpc::StatusCode::UNAVAILABLE);

    const std::string claimed = absl::StrCat("claimed spiffe://fabrikam.test/edge/", name, " (",
                                             name, ".fabrikam.test), unverified");
    tls::Rejection r = FindRejection(absl::StrCat(name, ".fabrikam.test"));
    EXPECT_EQ(r.peer, claimed);
    EXPECT_EQ(r.method, "handshake");
    // Refused for its chain: the identity rules (trusted server list) never
    // saw an identity.
    EXPECT_EQ(r.rule, "chain");
    for (const tls::Rejection& any : tls::RecentRejections()) {
      EXPECT_FALSE(absl::StartsWith(any.peer, absl::StrCat("spiffe://fabrikam.test/edge/", name)))
          << any.peer;
    }
    bool logged = false;
    for (const std::string& line : (*capture_)->Lines()) {
      if (absl::StrContains(line, absl::StrCat("peer=\"", claimed, "\""))) logged = true;
    }
    EXPECT_TRUE(logged) << "no log line names the peer as claimed";
  }
}

TEST_F(StreamTrackingTest, ControlCharactersInSansAreEscapedInTheLog) {
  pki::CertificateSpec spec;
  spec.common_name = "evil.contoso.test";
  spec.dns_names = {"evil.contoso.test"};
  spec.uri_names = {"spiffe://contoso.test/frontend/evil"};
  absl::StatusOr<pki::IssuedCertificate> base = pki::Issue(spec, nullptr);
  ASSERT_TRUE(base.ok()) << base.status();
  const std::string dns = "evil.contoso.test\r\n[warning] rejected nothing \"quoted\"";
  const std::string uri = "spiffe://contoso.test/frontend/evil\x1b[2J";
  pki::Certificate hostile = WithRawSans(*base, dns, uri);
  NodeFiles files{*base, dir_.Write("evil/node.crt", hostile.ToPem()),
                  dir_.Write("evil/node.key", base->key.ToPem(), 0600)};
  auto client = MakeClient("contoso.test", StateWithSecondRoot(), files);
  auto stub = v1::Edge::NewStub(client->channels->NewChannel(Internal()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::RelayResponse resp;
  EXPECT_EQ(stub->Relay(&ctx, v1::RelayRequest(), &resp).error_code(),
            grpc::StatusCode::UNAVAILABLE);

  tls::Rejection r = FindRejection("evil.contoso.test");
  EXPECT_EQ(r.peer,
            "claimed spiffe://contoso.test/frontend/evil\\x1b[2J (evil.contoso.test\\x0d\\x0a"
            "[warning] rejected nothing \\x22quoted\\x22), unverified");
  std::optional<std::string> line;
  for (const std::string& l : (*capture_)->Lines()) {
    if (absl::StrContains(l, "evil.contoso.test")) line = l;
  }
  ASSERT_TRUE(line.has_value());
  EXPECT_THAT(*line, HasSubstr("evil.contoso.test\\x0d\\x0a[warning]"));
  for (char c : *line) {
    EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "raw byte " << static_cast<int>(c) << " in " << *line;
  }
}

TEST_F(StreamTrackingTest, ClientRefusesServerWithRightNameButWrongRole) {
  // A front-end's certificate that carries the edge's DNS name.
  TestServer impostor(source_, WriteNode(*contoso_, dir_, "fe-as-edge",
                                         contoso_->IssueNode("frontend", "edge1",
                                                             "edge1.contoso.test")));
  auto client = MakeClient("contoso.test", StateWithSecondRoot(),
                           WriteNode(*contoso_, dir_, "fe-dialer",
                                     contoso_->IssueNode("frontend", "fe9", "fe9.contoso.test")));
  auto relay = [&](const tls::Target& target) {
    auto stub = v1::Edge::NewStub(client->channels->NewChannel(target));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::RelayResponse resp;
    return stub->Relay(&ctx, v1::RelayRequest(), &resp);
  };
  grpc::Status s = relay(
      {impostor.internal_address(), "edge1.contoso.test", "contoso.test", {pki::Role::kEdge}});
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  tls::Rejection r = FindRejection(impostor.internal_address());
  EXPECT_EQ(r.listener, "outbound");
  EXPECT_EQ(r.rule, "identity");
  EXPECT_EQ(r.reason, "server spiffe://contoso.test/frontend/edge1 has role frontend, expected edge");
  EXPECT_EQ(r.code, absl::StatusCode::kPermissionDenied);

  // The same server is reachable when its role is the expected one (the
  // refusal above is the role's, nothing else's) ...
  EXPECT_NE(relay({impostor.internal_address(), "edge1.contoso.test", "contoso.test",
                   {pki::Role::kFrontend}})
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  // ... and no server at all when no role is expected.
  EXPECT_EQ(relay({impostor.internal_address(), "edge1.contoso.test", "contoso.test", {}})
                .error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(FindRejection(impostor.internal_address()).reason,
              HasSubstr("no server role configured"));
}

}  // namespace
}  // namespace trustfabric::testing
