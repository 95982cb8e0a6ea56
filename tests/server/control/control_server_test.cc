// ControlServer as tfcontrol assembles it: health checking, Prometheus
// metrics, and start-up refusals that name the field.
#include "server/control/control_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/server/control/control_test_env.h"
#include "tests/testing/eventually.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>

namespace trustfabric::control {
namespace {

// GET http://127.0.0.1:<port><path>; the whole response, or "" on error.
std::string HttpGet(int port, const std::string& path) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  std::string out;
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string request =
        absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    if (write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[8192];
      ssize_t n;
      while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
    }
  }
  close(fd);
  return out;
}

// grpc.health.v1.Health/Check for `service`.
grpc::Status HealthCheck(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                         grpc::health::v1::HealthCheckResponse* response) {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  auto ctx = Context(absl::Seconds(10));
  return grpc::health::v1::Health::NewStub(channel)->Check(ctx.get(), request, response);
}

// One ServerReflectionInfo exchange: list_services, then half-close.
class ListServices final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  explicit ListServices(const std::shared_ptr<grpc::Channel>& channel) : stub_(channel) {
    ctx_.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    const std::string request("\x3a\x00", 2);  // list_services: ""
    grpc::Slice slice(request.data(), request.size());
    request_ = grpc::ByteBuffer(&slice, 1);
    stub_.PrepareBidiStreamingCall(&ctx_,
                                   "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                   grpc::StubOptions(), this);
    StartWrite(&request_);
    StartRead(&response_);
    StartCall();
  }
  void OnWriteDone(bool) override { StartWritesDone(); }
  void OnReadDone(bool ok) override {
    if (!ok) return;
    std::vector<grpc::Slice> slices;
    (void)response_.Dump(&slices);
    for (const grpc::Slice& s : slices) {
      bytes_.append(reinterpret_cast<const char*>(s.begin()), s.size());
    }
    StartRead(&response_);
  }
  void OnDone(const grpc::Status& s) override {
    status_ = s;
    done_.Notify();
  }
  // The status, and the raw responses.
  grpc::Status Await(std::string* bytes) {
    done_.WaitForNotification();
    *bytes = bytes_;
    return status_;
  }

 private:
  grpc::GenericStub stub_;
  grpc::ClientContext ctx_;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  std::string bytes_;
  grpc::Status status_;
  absl::Notification done_;
};

TEST(ControlServerTest, ReflectionListsTheServicesToAdministrators) {
  ControlEnv env;
  env.Start();
  ListServices admin(env.Channel("admin", "alice"));
  std::string bytes;
  grpc::Status s = admin.Await(&bytes);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_THAT(bytes, HasSubstr("trustfabric.v1.ControlPlane"));
  EXPECT_THAT(bytes, HasSubstr("trustfabric.v1.TrustDistribution"));
  EXPECT_THAT(bytes, HasSubstr("grpc.health.v1.Health"));

  ListServices node(env.Channel("frontend", "fe1"));
  EXPECT_EQ(node.Await(&bytes).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST(ControlServerTest, HealthReportsBothServicesServing) {
  ControlEnv env;
  env.Start();
  auto channel = env.Channel("frontend", "fe1");
  for (const std::string service :
       {"", "trustfabric.v1.ControlPlane", "trustfabric.v1.TrustDistribution"}) {
    SCOPED_TRACE(service);
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status s = HealthCheck(channel, service, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  grpc::health::v1::HealthCheckResponse response;
  EXPECT_EQ(HealthCheck(channel, "trustfabric.v1.Nope", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST(ControlServerTest, MetricsShowMutationsWatchersLagAndRejections) {
  ControlEnv env;
  env.config().set_metrics_address("127.0.0.1:0");
  env.Start();
  ASSERT_NE(env.server().metrics_port(), 0);
  auto admin = env.AdminStub();
  TestWatcher fe1(env.Channel("frontend", "fe1"), {});
  ASSERT_TRUE(fe1.WaitApplied(1));

  v1::AddRootAuthorityRequest req;
  req.mutable_root()->set_name("again");
  req.mutable_root()->set_trust_domain(testing::kContosoDomain);
  req.mutable_root()->set_certificates_pem(Contoso().RootPem());
  req.mutable_root()->add_purposes(v1::MTLS);
  v1::MutationResponse resp;
  ASSERT_TRUE(admin->AddRootAuthority(Context().get(), req, &resp).ok());
  EXPECT_EQ(admin->AddRootAuthority(Context().get(), req, &resp).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(fe1.WaitApplied(2));
  // A node calling the admin API is refused by policy: counted.
  auto node_admin = v1::ControlPlane::NewStub(env.Channel("frontend", "fe2"));
  v1::TrustSnapshot snap;
  EXPECT_EQ(node_admin->GetSnapshot(Context().get(), {}, &snap).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  const std::string lag =
      "trustfabric_control_node_revision_lag{node=\"spiffe://contoso.test/frontend/fe1\"} 0";
  std::string body;
  EXPECT_TRUE(testing::Eventually([&] {
    body = HttpGet(env.server().metrics_port(), "/metrics");
    return absl::StrContains(body, lag);
  }));
  EXPECT_THAT(body, HasSubstr("trustfabric_control_revision 2"));
  EXPECT_THAT(
      body,
      HasSubstr("trustfabric_control_mutations_total{operation=\"root.add\",result=\"ok\"} 1"));
  EXPECT_THAT(body, HasSubstr("trustfabric_control_mutations_total{operation=\"root.add\",result="
                              "\"already_exists\"} 1"));
  EXPECT_THAT(body, HasSubstr("trustfabric_control_watchers_connected 1"));
  EXPECT_THAT(body, HasSubstr("trustfabric_control_nodes_connected 1"));
  EXPECT_THAT(body, HasSubstr(lag));
  EXPECT_THAT(body, HasSubstr("trustfabric_control_nacks_total 0"));
  EXPECT_THAT(
      body,
      HasSubstr("trustfabric_control_rejections_total{listener=\"internal\",rule=\"policy\"}"));
}

TEST(ControlServerTest, StartRefusalsNameTheField) {
  {
    ControlEnv env;
    env.config().set_seed_root_file(env.dir().path() + "/missing.pem");
    EXPECT_THAT(ControlServer::Start(env.config()),
                StatusIs(absl::StatusCode::kInvalidArgument, "seed_root_file: cannot read"));
  }
  {
    ControlEnv env;
    env.config().mutable_identity()->set_key_file(env.dir().Write("wrong.key", "not a key", 0600));
    EXPECT_THAT(ControlServer::Start(env.config()),
                StatusIs(absl::StatusCode::kInvalidArgument, "identity: "));
  }
  {
    ControlEnv env;
    env.Start();
    // Same store: refused while the first server holds it.
    EXPECT_THAT(ControlServer::Start(env.config()),
                StatusIs(absl::StatusCode::kFailedPrecondition,
                         "sqlite_path: sqlite store " + env.config().sqlite_path() +
                             " is in use by another process"));
    // Same port, another store: the listener cannot bind.
    v1::ControlPlaneConfig other = env.config();
    other.set_sqlite_path(env.dir().path() + "/other.db");
    other.mutable_listen()->set_address(env.address());
    EXPECT_THAT(ControlServer::Start(other),
                StatusIs(absl::StatusCode::kUnavailable, "listen.address: cannot listen on"));
  }
}

}  // namespace
}  // namespace trustfabric::control
