// Scripted ControlPlane service; see fake_control_plane.h.
#include "tests/client/fake_control_plane.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/tls/grpc_status.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/server_builder.h>

namespace trustfabric::testing {
namespace {

[[noreturn]] void Die(const std::string& what, const absl::Status& status) {
  std::fprintf(stderr, "fake control plane: %s: %s\n", what.c_str(), status.ToString().c_str());
  std::abort();
}

ClientFiles WriteIdentity(const TestDomain& domain, const TempDir& dir, const std::string& name,
                          const pki::IssuedCertificate& leaf) {
  ClientFiles files;
  files.certificate_file = dir.Write(name + "/" + name + ".crt", domain.ChainPem(leaf));
  files.key_file = dir.Write(name + "/" + name + ".key", leaf.key.ToPem(), 0600);
  return files;
}

}  // namespace

class FakeControlPlane::Service final : public v1::ControlPlane::Service {
 public:
  explicit Service(FakeControlPlane* owner) : owner_(owner) {}

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
  FakeControlPlane* const owner_;
};

FakeControlPlane::FakeControlPlane()
    : domain_(std::make_unique<TestDomain>("contoso.test")),
      impostor_(std::make_unique<TestDomain>("contoso.test")) {
  admin_ = WriteIdentity(*domain_, dir_, "admin1",
                         domain_->IssueNode("admin", "admin1", "admin1.contoso.test"));
  frontend_ = WriteIdentity(*domain_, dir_, "fe1",
                            domain_->IssueNode("frontend", "fe1", "fe1.contoso.test"));
  impostor_admin_ = WriteIdentity(*impostor_, dir_, "impostor-admin1",
                                  impostor_->IssueNode("admin", "admin1", "admin1.contoso.test"));
  root_file_ = dir_.Write("root.crt", domain_->RootPem());
  impostor_root_file_ = dir_.Write("impostor-root.crt", impostor_->RootPem());
  const ClientFiles server = WriteIdentity(
      *domain_, dir_, "control1", domain_->IssueNode("control", "control1", kFakeControlName));

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

FakeControlPlane::~FakeControlPlane() {
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

v1::TrustSnapshot FakeControlPlane::state() const {
  v1::TrustSnapshot s;
  s.set_revision(1);
  s.set_trust_domain("contoso.test");
  s.set_realm(kFakeControlRealm);
  v1::RootAuthority* root = s.add_roots();
  root->set_name("contoso-root");
  root->set_trust_domain("contoso.test");
  root->set_certificates_pem(domain_->RootPem());
  root->add_purposes(v1::MTLS);
  return s;
}

client::ControlClientOptions FakeControlPlane::AdminOptions() const {
  client::ControlClientOptions o;
  o.address = address_;
  o.server_name = kFakeControlName;
  o.trust_domain = "contoso.test";
  o.certificate_file = admin_.certificate_file;
  o.key_file = admin_.key_file;
  o.bootstrap_roots_pem = domain_->RootPem();
  return o;
}

void FakeControlPlane::SetResponse(const std::string& method,
                                   const google::protobuf::Message& response) {
  absl::MutexLock lock(&mu_);
  responses_[method] = response.SerializeAsString();
}

void FakeControlPlane::SetFailure(absl::Status status) {
  absl::MutexLock lock(&mu_);
  failure_ = std::move(status);
}

void FakeControlPlane::SetDelay(absl::Duration delay) {
  absl::MutexLock lock(&mu_);
  delay_ = delay;
}

std::vector<std::string> FakeControlPlane::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

absl::Duration FakeControlPlane::DeadlineLeft(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = deadline_left_.find(method);
  return it == deadline_left_.end() ? absl::ZeroDuration() : it->second;
}

std::string FakeControlPlane::last_caller() const {
  absl::MutexLock lock(&mu_);
  return last_caller_;
}

std::string FakeControlPlane::RequestBytes(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(method);
  return it == requests_.end() ? "" : it->second;
}

grpc::Status FakeControlPlane::Handle(grpc::ServerContext* context, const std::string& method,
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

}  // namespace trustfabric::testing
