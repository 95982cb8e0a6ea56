// ChannelCache and server verification on the client side; see
// client_security.h.
#include "common/tls/client_security.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/pki/certificate.h"
#include "common/pki/encoding.h"
#include "common/status/status.h"
#include "common/tls/grpc_status.h"
#include "common/tls/identity_files.h"
#include "common/tls/peer_verifier.h"
#include "common/tls/rejections.h"
#include "common/tls/untrusted_text.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace trustfabric::tls {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::TlsCustomVerificationCheckRequest;

// Verifies the server of one channel against its target domain's bundle.
class ServerVerifier final : public ExternalCertificateVerifier {
 public:
  ServerVerifier(std::shared_ptr<const TrustSource> source, Target target)
      : source_(std::move(source)), target_(std::move(target)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    absl::Status status = Check(request);
    if (!status.ok()) {
      RecordRejection("outbound", absl::StrCat(target_.server_name, " at ", target_.address),
                      "handshake", status);
    }
    *sync_status = ToGrpcStatus(status);
    return true;
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  absl::Status Check(TlsCustomVerificationCheckRequest* request) const {
    // Setting a verifier switches off gRPC's own hostname check: the name
    // the channel dialed must be the one we check.
    const grpc::string_ref target_name = request->target_name();
    if (absl::string_view(target_name.data(), target_name.size()) != target_.server_name) {
      return absl::UnauthenticatedError(
          absl::StrCat("chain: dialed name ", std::string(target_name.data(), target_name.size()),
                       " is not the expected server name ", target_.server_name));
    }
    // On the client the full chain includes the leaf.
    const grpc::string_ref full = request->peer_cert_full_chain();
    absl::StatusOr<std::vector<pki::Certificate>> chain =
        pki::ParsePemBundle(absl::string_view(full.data(), full.size()));
    if (!chain.ok()) {
      return absl::UnauthenticatedError(absl::StrCat("certificate: ", chain.status().message()));
    }
    if (chain->empty()) return absl::UnauthenticatedError("certificate: server sent no chain");
    std::vector<pki::Certificate> rest(chain->begin() + 1, chain->end());
    absl::StatusOr<PeerIdentityPtr> server =
        VerifyServer(*source_, target_.trust_domain, target_.server_name, chain->front(), rest);
    if (!server.ok()) return server.status();
    // The name says which host; the role says what it may act as: a
    // front-end's certificate carrying the edge's DNS name is not the edge.
    const pki::Role role = (*server)->spiffe_id.role;
    if (std::find(target_.server_roles.begin(), target_.server_roles.end(), role) ==
        target_.server_roles.end()) {
      return absl::PermissionDeniedError(absl::StrCat(
          "identity: server ", (*server)->spiffe_id.ToString(), " has role ", pki::RoleName(role),
          ", expected ", ExpectedRoles(target_.server_roles)));
    }
    return absl::OkStatus();
  }

  static std::string ExpectedRoles(const std::vector<pki::Role>& roles) {
    if (roles.empty()) return "none (no server role configured)";
    std::vector<std::string> names;
    for (pki::Role r : roles) names.emplace_back(pki::RoleName(r));
    return absl::StrJoin(names, " or ");
  }

  const std::shared_ptr<const TrustSource> source_;
  const Target target_;
};

}  // namespace

std::string Target::Key() const {
  std::vector<std::string> roles;
  for (pki::Role r : server_roles) roles.emplace_back(pki::RoleName(r));
  return absl::StrCat(address, "|", server_name, "|", trust_domain, "|", absl::StrJoin(roles, ","));
}

grpc::ChannelArguments DefaultChannelArguments(const Target& target) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride(target.server_name);
  args.SetMaxReceiveMessageSize(kMaxMessageBytes);
  args.SetMaxSendMessageSize(kMaxMessageBytes);
  // Keepalive within what trustfabric servers permit (see ServerBuilder
  // settings in server_security.h).
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A restarted peer is back within a second or two; gRPC's default backoff
  // (1 s growing to 120 s) would keep calls failing long after that.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 200);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  return args;
}

ChannelCache::ChannelCache(ClientIdentity identity, std::shared_ptr<const TrustSource> source)
    : identity_(std::move(identity)), source_(std::move(source)) {}

absl::StatusOr<std::shared_ptr<ChannelCache>> ChannelCache::Create(
    ClientIdentity identity, std::shared_ptr<const TrustSource> source) {
  TF_RETURN_IF_ERROR(CheckIdentityFiles(identity.certificate_file, identity.key_file).status());
  if (identity.refresh_interval_seconds < 1) identity.refresh_interval_seconds = 1;
  std::shared_ptr<ChannelCache> cache(new ChannelCache(std::move(identity), std::move(source)));
  cache->provider_ = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      cache->identity_.key_file, cache->identity_.certificate_file,
      static_cast<unsigned>(cache->identity_.refresh_interval_seconds));
  return cache;
}

std::shared_ptr<grpc::Channel> ChannelCache::NewChannel(const Target& target) const {
  grpc::experimental::TlsChannelCredentialsOptions tls;
  tls.set_certificate_provider(provider_);
  tls.watch_identity_key_cert_pairs();
  tls.set_verify_server_certs(false);  // our ServerVerifier does it
  tls.set_check_call_host(false);
  tls.set_certificate_verifier(
      ExternalCertificateVerifier::Create<ServerVerifier>(source_, target));
  {
    absl::MutexLock lock(&built_mu_);
    ++built_;
  }
  return grpc::CreateCustomChannel(target.address, grpc::experimental::TlsCredentials(tls),
                                   DefaultChannelArguments(target));
}

std::string ChannelCache::BundleFingerprint(const std::string& trust_domain) {
  std::shared_ptr<const trust::TrustSnapshot> snap = source_->snapshot();
  if (!snap) return "bootstrap";
  if (fingerprint_revision_ != snap->revision() ||
      fingerprint_epoch_ != snap->proto().generation().epoch()) {
    fingerprints_.clear();
    fingerprint_revision_ = snap->revision();
    fingerprint_epoch_ = snap->proto().generation().epoch();
  }
  auto it = fingerprints_.find(trust_domain);
  if (it != fingerprints_.end()) return it->second;

  std::string fingerprint = TrustFingerprint(*snap, trust_domain);
  fingerprints_[trust_domain] = fingerprint;
  return fingerprint;
}

std::shared_ptr<grpc::Channel> ChannelCache::Get(const Target& target) {
  absl::MutexLock lock(&mu_);
  const std::string bundle = BundleFingerprint(target.trust_domain);
  Entry& entry = channels_[target.Key()];
  if (!entry.channel || entry.bundle != bundle) {
    entry.channel = NewChannel(target);
    entry.bundle = bundle;
  }
  return entry.channel;
}

uint64_t ChannelCache::channels_built() const {
  absl::MutexLock lock(&built_mu_);
  return built_;
}

}  // namespace trustfabric::tls
