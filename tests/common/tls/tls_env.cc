#include "tests/common/tls/tls_env.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/tls/grpc_status.h"
#include "gtest/gtest.h"
#include "trustfabric/v1/control.grpc.pb.h"
#include "trustfabric/v1/node.grpc.pb.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::testing {

NodeFiles WriteNode(const TestDomain& domain, const TempDir& dir, const std::string& name,
                    const pki::IssuedCertificate& leaf) {
  NodeFiles files{leaf, "", ""};
  files.certificate_file = dir.Write(name + "/node.crt", domain.ChainPem(leaf));
  files.key_file = dir.Write(name + "/node.key", leaf.key.ToPem(), 0600);
  return files;
}

v1::RootAuthority MtlsRoot(const std::string& name, const TestDomain& domain) {
  v1::RootAuthority root;
  root.set_name(name);
  root.set_trust_domain(domain.trust_domain());
  root.set_certificates_pem(domain.RootPem());
  root.add_purposes(v1::MTLS);
  return root;
}

namespace {

v1::TrustSnapshot StateFor(const TestDomain& local, const std::string& realm,
                           const TestDomain& partner, uint64_t revision) {
  v1::TrustSnapshot s;
  s.set_revision(revision);
  s.set_trust_domain(local.trust_domain());
  s.set_realm(realm);
  const std::string local_root = absl::StrCat(local.trust_domain(), "-root");
  const std::string partner_root = absl::StrCat(partner.trust_domain(), "-root");
  *s.add_roots() = MtlsRoot(local_root, local);
  *s.add_roots() = MtlsRoot(partner_root, partner);
  v1::FederationPeer* peer = s.add_peers();
  peer->set_trust_domain(partner.trust_domain());
  peer->add_root_authority_names(partner_root);
  peer->add_allowed_server_names(absl::StrCat("edge1.", partner.trust_domain()));
  v1::Endpoint* ep = peer->add_endpoints();
  ep->set_address("127.0.0.1:1");
  ep->set_server_name(absl::StrCat("edge1.", partner.trust_domain()));
  peer->set_enabled(true);
  return s;
}

}  // namespace

v1::TrustSnapshot ContosoState(const TestDomain& contoso, const TestDomain& fabrikam,
                               uint64_t revision) {
  return StateFor(contoso, kContosoRealm, fabrikam, revision);
}

v1::TrustSnapshot FabrikamState(const TestDomain& fabrikam, const TestDomain& contoso,
                                uint64_t revision) {
  return StateFor(fabrikam, kFabrikamRealm, contoso, revision);
}

void Install(trust::SnapshotHolder* holder, v1::TrustSnapshot state) {
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snap =
      trust::TrustSnapshot::Create(std::move(state));
  ASSERT_TRUE(snap.ok()) << snap.status();
  absl::Status swapped = holder->Swap(*std::move(snap));
  ASSERT_TRUE(swapped.ok()) << swapped;
}

class TestServer::Services {
 public:
  class Edge final : public v1::Edge::Service {
   public:
    explicit Edge(TestServer* server) : server_(server) {}
    grpc::Status Relay(grpc::ServerContext* ctx, const v1::RelayRequest*,
                       v1::RelayResponse* resp) override {
      tls::ListenerSecurity& security =
          tls::ListenerOf(*ctx) == "federation" ? *server_->federation_ : *server_->internal_;
      absl::StatusOr<tls::PeerIdentityPtr> peer = security.PeerOf(*ctx);
      if (!peer.ok()) return tls::ToGrpcStatus(peer.status());
      resp->set_accepted_by((*peer)->spiffe_id.ToString());
      resp->set_disposition(tls::ListenerOf(*ctx));
      return grpc::Status::OK;
    }

   private:
    TestServer* server_;
  };

  class Registrar final : public v1::Registrar::Service {
   public:
    grpc::Status Lookup(grpc::ServerContext*, const v1::LookupRequest*,
                        v1::LookupResponse* resp) override {
      resp->set_user("ok");
      return grpc::Status::OK;
    }
  };

  class WatchService final : public v1::TrustDistribution::CallbackService {
   public:
    grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse>* Watch(
        grpc::CallbackServerContext*) override {
      return new Stream();
    }

   private:
    class Stream final : public grpc::ServerBidiReactor<v1::WatchRequest, v1::WatchResponse> {
     public:
      Stream() {
        response_.mutable_keepalive()->set_seconds(1);
        StartWrite(&response_);
        StartRead(&request_);
      }
      void OnReadDone(bool ok) override {
        if (ok) {
          StartRead(&request_);
        } else {
          Finish(grpc::Status::OK);
        }
      }
      void OnWriteDone(bool) override {}
      void OnDone() override { delete this; }

     private:
      v1::WatchRequest request_;
      v1::WatchResponse response_;
    };
  };

  explicit Services(TestServer* server) : edge(server) {}
  Edge edge;
  Registrar registrar;
  WatchService watch;
};

TestServer::TestServer(std::shared_ptr<const tls::TrustSource> source, const NodeFiles& identity,
                       TestServerOptions options) {
  tls::ListenerOptions opts;
  opts.certificate_file = identity.certificate_file;
  opts.key_file = identity.key_file;
  opts.listener = tls::Listener::kInternal;
  auto internal = tls::ListenerSecurity::Create(opts, source);
  EXPECT_TRUE(internal.ok()) << internal.status();
  opts.listener = tls::Listener::kFederation;
  auto federation = tls::ListenerSecurity::Create(opts, source);
  EXPECT_TRUE(federation.ok()) << federation.status();
  internal_ = *internal;
  federation_ = *federation;
  if (options.bearer_authenticator) {
    opts.listener = tls::Listener::kInternal;
    opts.client_auth = tls::ClientAuth::kBearerToken;
    opts.call_authenticator = options.bearer_authenticator;
    auto client = tls::ListenerSecurity::Create(opts, source);
    EXPECT_TRUE(client.ok()) << client.status();
    if (client.ok()) client_ = *client;
  }
  services_ = std::make_unique<Services>(this);

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  tls::InstallStreamTracking(&builder, {internal_, federation_, client_});
  int internal_port = 0;
  int federation_port = 0;
  int client_port = 0;
  builder.AddListeningPort("127.0.0.1:0", internal_->credentials(), &internal_port);
  builder.AddListeningPort("127.0.0.1:0", federation_->credentials(), &federation_port);
  if (client_) builder.AddListeningPort("127.0.0.1:0", client_->credentials(), &client_port);
  builder.RegisterService(&services_->edge);
  builder.RegisterService(&services_->registrar);
  builder.RegisterService(&services_->watch);
  server_ = builder.BuildAndStart();
  EXPECT_TRUE(server_ != nullptr);
  internal_address_ = absl::StrCat("127.0.0.1:", internal_port);
  federation_address_ = absl::StrCat("127.0.0.1:", federation_port);
  if (client_) client_address_ = absl::StrCat("127.0.0.1:", client_port);
}

TestServer::~TestServer() {
  if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

pki::IssuedCertificate JunkClient(const pki::PrivateKey& key, int i) {
  pki::CertificateSpec spec;
  spec.common_name = absl::StrCat("junk", i, ".contoso.test");
  spec.dns_names = {spec.common_name};
  spec.uri_names = {absl::StrCat("spiffe://contoso.test/frontend/junk", i)};
  spec.key = key;
  absl::StatusOr<pki::IssuedCertificate> issued = pki::Issue(spec, nullptr);
  EXPECT_TRUE(issued.ok()) << issued.status();
  return *std::move(issued);
}

std::unique_ptr<ClientSide> MakeClient(const std::string& local_domain, v1::TrustSnapshot state,
                                       const NodeFiles& identity) {
  auto client = std::make_unique<ClientSide>();
  Install(&client->holder, std::move(state));
  client->source = std::make_shared<tls::TrustSource>(&client->holder, local_domain, nullptr);
  auto channels =
      tls::ChannelCache::Create({identity.certificate_file, identity.key_file, 1}, client->source);
  EXPECT_TRUE(channels.ok()) << channels.status();
  if (channels.ok()) client->channels = *channels;
  return client;
}

tls::Rejection FindRejection(const std::string& needle) {
  std::vector<tls::Rejection> all = tls::RecentRejections();
  for (auto it = all.rbegin(); it != all.rend(); ++it) {
    if (it->peer.find(needle) != std::string::npos ||
        it->reason.find(needle) != std::string::npos) {
      return *it;
    }
  }
  return {};
}

TestDomain* ContosoEdgeTest::contoso_ = nullptr;
TestDomain* ContosoEdgeTest::fabrikam_ = nullptr;

void ContosoEdgeTest::SetUpTestSuite() {
  // Generated once per binary; every suite of the binary shares them.
  if (contoso_ != nullptr) return;
  contoso_ = new TestDomain("contoso.test");
  fabrikam_ = new TestDomain("fabrikam.test");
}

void ContosoEdgeTest::SetUp() {
  Install(&holder_, ContosoState(*contoso_, *fabrikam_, 1));
  source_ = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);
}

void ContosoEdgeTest::StartEdge() {
  server_identity_.emplace(WriteNode(*contoso_, dir_, "edge1",
                                     contoso_->IssueNode("edge", "edge1", "edge1.contoso.test")));
  server_ = std::make_unique<TestServer>(source_, *server_identity_);
}

tls::Target ContosoEdgeTest::Internal(const std::string& server_name) const {
  return {server_->internal_address(), server_name, "contoso.test", {pki::Role::kEdge}};
}

tls::Target ContosoEdgeTest::Federation() const {
  return {server_->federation_address(), "edge1.contoso.test", "contoso.test", {pki::Role::kEdge}};
}

grpc::Status ContosoEdgeTest::Relay(const std::shared_ptr<grpc::Channel>& channel,
                                    v1::RelayResponse* response) {
  auto stub = v1::Edge::NewStub(channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::RelayResponse ignored;
  return stub->Relay(&ctx, v1::RelayRequest(), response != nullptr ? response : &ignored);
}

}  // namespace trustfabric::testing
