// Scripted ControlPlane service; see scripted_control_plane.h.
#include "tests/client/lib/scripted_control_plane.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/grpc_status.h"
#include "common/trust/snapshot.h"
#include "tests/testing/control_config.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/server_builder.h>

namespace trustfabric::testing {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "scripted control plane: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::abort();
}

}  // namespace

class ScriptedControlPlane::Service final : public v1::ControlPlane::Service {
 public:
  explicit Service(ScriptedControlPlane* owner) : owner_(owner) {}

#define TF_FAKE_METHOD(Method, Request, Response)                               \
  grpc::Status Method(grpc::ServerContext* context, const v1::Request* request, \
                      v1::Response* response) override {                        \
    return owner_->Handle(context, #Method, *request, response);                \
  }
  TF_FAKE_METHOD(AddRootAuthority, AddRootAuthorityRequest, MutationResponse)
  TF_FAKE_METHOD(RemoveRootAuthority, RemoveRootAuthorityRequest, MutationResponse)
  TF_FAKE_METHOD(ListRootAuthorities, ListRootAuthoritiesRequest, ListRootAuthoritiesResponse)
  TF_FAKE_METHOD(AddTokenIssuer, AddTokenIssuerRequest, MutationResponse)
  TF_FAKE_METHOD(RemoveTokenIssuer, RemoveTokenIssuerRequest, MutationResponse)
  TF_FAKE_METHOD(ListTokenIssuers, ListTokenIssuersRequest, ListTokenIssuersResponse)
  TF_FAKE_METHOD(PutFederationPeer, PutFederationPeerRequest, MutationResponse)
  TF_FAKE_METHOD(RemoveFederationPeer, RemoveFederationPeerRequest, MutationResponse)
  TF_FAKE_METHOD(ListFederationPeers, ListFederationPeersRequest, ListFederationPeersResponse)
  TF_FAKE_METHOD(RevokeCertificate, RevokeCertificateRequest, MutationResponse)
  TF_FAKE_METHOD(UnrevokeCertificate, UnrevokeCertificateRequest, MutationResponse)
  TF_FAKE_METHOD(ListRevocations, ListRevocationsRequest, ListRevocationsResponse)
  TF_FAKE_METHOD(GetSnapshot, GetSnapshotRequest, TrustSnapshot)
  TF_FAKE_METHOD(GetPropagationStatus, GetPropagationStatusRequest, GetPropagationStatusResponse)
  TF_FAKE_METHOD(GetAuditLog, GetAuditLogRequest, GetAuditLogResponse)
#undef TF_FAKE_METHOD

 private:
  ScriptedControlPlane* const owner_;
};

ScriptedControlPlane::ScriptedControlPlane()
    : domain_(std::make_unique<TestDomain>("contoso.test")),
      impostor_(std::make_unique<TestDomain>("contoso.test")) {
  admin_ = WriteIdentity(*domain_, dir_, "admin1", "admin", "admin1", "admin1.contoso.test");
  frontend_ = WriteIdentity(*domain_, dir_, "fe1", "frontend", "fe1", "fe1.contoso.test");
  impostor_admin_ =
      WriteIdentity(*impostor_, dir_, "impostor-admin1", "admin", "admin1", "admin1.contoso.test");
  root_file_ = dir_.Write("root.crt", domain_->RootPem());
  impostor_root_file_ = dir_.Write("impostor-root.crt", impostor_->RootPem());
  const tls::ClientIdentity server =
      WriteIdentity(*domain_, dir_, "control1", "control", "control1", kScriptedControlName);

  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(state());
  if (!snapshot.ok()) Die("snapshot", snapshot.status());
  absl::Status swapped = holder_.Swap(*std::move(snapshot));
  if (!swapped.ok()) Die("swap", swapped);
  source_ = std::make_shared<tls::TrustSource>(&holder_, "contoso.test", nullptr);

  tls::ListenerOptions options;
  options.certificate_file = server.certificate_file;
  options.key_file = server.key_file;
  absl::StatusOr<std::shared_ptr<tls::ListenerSecurity>> security =
      tls::ListenerSecurity::Create(options, source_);
  if (!security.ok()) Die("listener security", security.status());
  security_ = *std::move(security);

  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  tls::ApplyServerDefaults(&builder);
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", security_->credentials(), &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) Die("server", absl::UnavailableError("cannot listen"));
  address_ = absl::StrCat("127.0.0.1:", port);
}

ScriptedControlPlane::~ScriptedControlPlane() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

v1::TrustSnapshot ScriptedControlPlane::state() const {
  v1::TrustSnapshot s;
  s.set_revision(1);
  s.set_trust_domain("contoso.test");
  s.set_realm(kScriptedControlRealm);
  v1::RootAuthority* root = s.add_roots();
  root->set_name("contoso-root");
  root->set_trust_domain("contoso.test");
  root->set_certificates_pem(domain_->RootPem());
  root->add_purposes(v1::MTLS);
  return s;
}

client::ControlClientOptions ScriptedControlPlane::AdminOptions() const {
  client::ControlClientOptions o;
  o.address = address_;
  o.server_name = kScriptedControlName;
  o.trust_domain = "contoso.test";
  o.certificate_file = admin_.certificate_file;
  o.key_file = admin_.key_file;
  o.bootstrap_roots_pem = domain_->RootPem();
  return o;
}

void ScriptedControlPlane::SetResponse(const std::string& method,
                                       const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  responses_[method] = response.SerializeAsString();
}

void ScriptedControlPlane::SetFailure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

void ScriptedControlPlane::SetDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  delay_ = delay;
}

std::vector<std::string> ScriptedControlPlane::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::Duration ScriptedControlPlane::DeadlineLeft(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = deadline_left_.find(method);
  return it == deadline_left_.end() ? absl::ZeroDuration() : it->second;
}

std::string ScriptedControlPlane::last_caller() const {
  absl::MutexLock lock(&mu_);
  return last_caller_;
}

std::string ScriptedControlPlane::RequestBytes(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(method);
  return it == requests_.end() ? "" : it->second;
}

grpc::Status ScriptedControlPlane::Handle(grpc::ServerContext* context, const std::string& method,
                                          const google::protobuf::Message& request,
                                          google::protobuf::Message* response) {
  absl::StatusOr<tls::PeerIdentityPtr> peer = security_->PeerOf(*context);
  absl::Duration delay;
  absl::Status failure;
  std::string scripted;
  {
    absl::MutexLock lock(&mu_);
    calls_.push_back(method);
    requests_[method] = request.SerializeAsString();
    deadline_left_[method] = absl::FromChrono(context->deadline()) - absl::Now();
    if (peer.ok()) last_caller_ = (*peer)->spiffe_id.ToString();
    delay = delay_;
    failure = failure_;
    auto it = responses_.find(method);
    if (it != responses_.end()) scripted = it->second;
  }
  if (delay > absl::ZeroDuration()) absl::SleepFor(delay);
  if (!failure.ok()) return tls::ToGrpcStatus(failure);
  if (!response->ParseFromString(scripted)) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "scripted response does not parse");
  }
  return grpc::Status::OK;
}

v1::ListFederationPeersResponse TwoPeers() {
  v1::ListFederationPeersResponse current;
  current.set_revision(12);
  v1::FederationPeer* a = current.add_peers();
  a->set_trust_domain("fabrikam.test");
  a->add_root_authority_names("fabrikam-root");
  a->add_allowed_server_names("edge1.fabrikam.test");
  v1::Endpoint* e = a->add_endpoints();
  e->set_address("127.0.0.13:7443");
  e->set_server_name("edge1.fabrikam.test");
  a->set_enabled(true);
  v1::FederationPeer* b = current.add_peers();
  b->set_trust_domain("northwind.test");
  b->set_enabled(false);
  return current;
}

v1::GetPropagationStatusResponse ThreeNodes(absl::Time now) {
  v1::GetPropagationStatusResponse s;
  s.set_revision(10);
  v1::NodeStatus* a = s.add_nodes();
  a->set_spiffe_id("spiffe://contoso.test/frontend/fe1");
  a->set_role("frontend");
  a->set_connected(true);
  a->set_applied_revision(10);
  a->mutable_last_seen()->set_seconds(absl::ToUnixSeconds(now - absl::Seconds(4)));
  a->mutable_identity_not_after()->set_seconds(absl::ToUnixSeconds(now + absl::Hours(24)));
  a->set_anchoring_root("contoso-root");
  v1::NodeStatus* b = s.add_nodes();
  b->set_spiffe_id("spiffe://contoso.test/edge/edge1");
  b->set_role("edge");
  b->set_connected(false);
  b->set_applied_revision(7);
  b->set_last_nack_revision(8);
  b->set_last_nack_reason("roots[1]: certificates_pem: not a ca");
  b->mutable_identity_not_after()->set_seconds(absl::ToUnixSeconds(now - absl::Hours(1)));
  v1::NodeStatus* c = s.add_nodes();
  c->set_spiffe_id("spiffe://contoso.test/registrar/registrar1");
  c->set_role("registrar");
  c->set_applied_revision(11);
  return s;
}

}  // namespace trustfabric::testing
