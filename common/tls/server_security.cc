// ListenerSecurity; see server_security.h.
#include "common/tls/server_security.h"

#include <atomic>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/status/status.h"
#include "common/tls/grpc_status.h"
#include "common/tls/identity_files.h"
#include "common/tls/policy.h"
#include "common/tls/rejections.h"
#include "common/tls/untrusted_text.h"

#include <grpc/grpc.h>
#include <grpcpp/security/auth_context.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_certificate_verifier.h>
#include <grpcpp/security/tls_credentials_options.h>

namespace trustfabric::tls {
namespace {

using grpc::experimental::ExternalCertificateVerifier;
using grpc::experimental::TlsCustomVerificationCheckRequest;

std::string ToString(grpc::string_ref s) { return std::string(s.data(), s.size()); }

// What a refused handshake's peer claims to be: its certificate did not
// verify, so nothing in it is an identity.
std::string ClaimedBy(TlsCustomVerificationCheckRequest* request) {
  std::vector<std::string> uris;
  std::vector<std::string> dns;
  for (const auto& u : request->uri_names()) uris.push_back(ToString(u));
  for (const auto& d : request->dns_names()) dns.push_back(ToString(d));
  return DescribeClaimed(uris, dns, ToString(request->common_name()));
}

// Handshake-time check of the client's chain. Synchronous: verification is
// CPU-only and cached.
class HandshakeVerifier final : public ExternalCertificateVerifier {
 public:
  explicit HandshakeVerifier(std::shared_ptr<PeerVerifier> verifier)
      : verifier_(std::move(verifier)) {}

  bool Verify(TlsCustomVerificationCheckRequest* request, std::function<void(grpc::Status)>,
              grpc::Status* sync_status) override {
    // On the server the "full chain" excludes the leaf.
    absl::StatusOr<PeerIdentityPtr> peer = verifier_->VerifyPeer(
        ToString(request->peer_cert()), ToString(request->peer_cert_full_chain()));
    if (peer.ok()) {
      *sync_status = grpc::Status::OK;
      return true;
    }
    RecordRejection(std::string(ListenerName(verifier_->listener())), ClaimedBy(request),
                    "handshake", peer.status());
    *sync_status = ToGrpcStatus(peer.status());
    return true;
  }

  void Cancel(TlsCustomVerificationCheckRequest*) override {}

 private:
  std::shared_ptr<PeerVerifier> verifier_;
};

constexpr char kListenerProperty[] = "trustfabric_listener";
constexpr char kListenerInstanceProperty[] = "trustfabric_listener_instance";
constexpr char kChainKeyProperty[] = "trustfabric_chain_key";

// The connection facts every listener's processor adds on the first call of
// a connection (the AuthContext belongs to the connection).
void AddListenerProperties(grpc::AuthContext* auth, absl::string_view listener,
                           const std::string& instance_id) {
  if (!auth->FindPropertyValues(kListenerProperty).empty()) return;
  auth->AddProperty(kListenerProperty, std::string(listener));
  auth->AddProperty(kListenerInstanceProperty, instance_id);
}

// The connection's PEM leaf and intermediates, without copying; valid while
// the AuthContext is.
struct PemView {
  absl::string_view leaf;
  absl::string_view chain;
};

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

PemView PemViewOf(const grpc::AuthContext& auth) {
  PemView pem;
  for (const auto& v : auth.FindPropertyValues("x509_pem_cert")) pem.leaf = View(v);
  for (const auto& v : auth.FindPropertyValues("x509_pem_cert_chain")) pem.chain = View(v);
  return pem;
}

std::string StoredChainKey(const grpc::AuthContext& auth) {
  for (const auto& v : auth.FindPropertyValues(kChainKeyProperty)) return ToString(v);
  return "";
}

absl::string_view MethodOf(const grpc::AuthMetadataProcessor::InputMetadata& md) {
  auto it = md.find(":path");
  if (it == md.end()) return "";
  return absl::string_view(it->second.data(), it->second.size());
}

// What the call processors of both kinds of listener share: the trust source
// whose serving gate every call passes, and the listener instance recorded
// on each connection.
class ListenerCallProcessor : public grpc::AuthMetadataProcessor {
 public:
  // Non-blocking: runs inline; a cache hit costs a hash lookup.
  bool IsBlocking() const override { return false; }

 protected:
  ListenerCallProcessor(std::shared_ptr<const TrustSource> source, std::string instance_id)
      : source_(std::move(source)), instance_id_(std::move(instance_id)) {}

  const std::shared_ptr<const TrustSource> source_;
  const std::string instance_id_;
};

// Per-call re-validation and authorization on a mutual-TLS listener.
class MutualTlsCallProcessor final : public ListenerCallProcessor {
 public:
  MutualTlsCallProcessor(std::shared_ptr<PeerVerifier> verifier,
                         std::shared_ptr<const TrustSource> source, std::string instance_id)
      : ListenerCallProcessor(std::move(source), std::move(instance_id)),
        verifier_(std::move(verifier)) {}

  grpc::Status Process(const InputMetadata& md, grpc::AuthContext* auth, OutputMetadata*,
                       OutputMetadata*) override {
    const absl::string_view method = MethodOf(md);
    // The AuthContext belongs to the connection: connection facts (the
    // listener, the chain's cache key) are added on its first call only.
    AddListenerProperties(auth, ListenerName(verifier_->listener()), instance_id_);
    if (absl::Status gate = source_->CheckServing(); !gate.ok()) {
      RecordRejection(ListenerName(verifier_->listener()), ClaimedPeerOf(*auth),
                      EscapeUntrusted(method), gate);
      return ToGrpcStatus(gate);
    }
    PemView pem = PemViewOf(*auth);
    std::string key = StoredChainKey(*auth);
    if (key.empty()) {
      key = ChainKey(pem.leaf, pem.chain);
      auth->AddProperty(kChainKeyProperty, key);
    }
    absl::StatusOr<PeerIdentityPtr> peer = verifier_->VerifyPeer(key, pem.leaf, pem.chain);
    absl::Status status =
        peer.ok() ? Authorize(method, **peer, source_->local_domain()) : peer.status();
    if (status.ok()) return grpc::Status::OK;
    RecordRejection(std::string(ListenerName(verifier_->listener())),
                    peer.ok() ? EscapeUntrusted((*peer)->Describe()) : ClaimedPeerOf(*auth),
                    EscapeUntrusted(method), status);
    return ToGrpcStatus(status);
  }

 private:
  std::shared_ptr<PeerVerifier> verifier_;
};

// Per-call bearer-token check on a server-authenticated TLS listener.
class BearerCallProcessor final : public ListenerCallProcessor {
 public:
  BearerCallProcessor(
      std::function<absl::StatusOr<CallAuthentication>(absl::string_view, absl::string_view)>
          authenticate,
      std::shared_ptr<const TrustSource> source, std::string instance_id)
      : ListenerCallProcessor(std::move(source), std::move(instance_id)),
        authenticate_(std::move(authenticate)) {}

  grpc::Status Process(const InputMetadata& md, grpc::AuthContext* auth, OutputMetadata*,
                       OutputMetadata*) override {
    AddListenerProperties(auth, "client", instance_id_);
    const absl::string_view method = MethodOf(md);
    auto it = md.find("authorization");
    absl::string_view authorization = it == md.end()
                                          ? absl::string_view()
                                          : absl::string_view(it->second.data(), it->second.size());
    absl::Status status = source_->CheckServing();
    if (status.ok()) status = authenticate_(method, authorization).status();
    if (status.ok()) return grpc::Status::OK;
    RecordRejection("client", "bearer", EscapeUntrusted(method), status);
    return ToGrpcStatus(status);
  }

 private:
  std::function<absl::StatusOr<CallAuthentication>(absl::string_view, absl::string_view)>
      authenticate_;
};

}  // namespace

std::string ClaimedPeerOf(const grpc::AuthContext& auth) {
  std::vector<std::string> uris;
  std::vector<std::string> dns;
  std::string cn;
  for (const auto& v : auth.FindPropertyValues("peer_uri")) uris.push_back(ToString(v));
  for (const auto& v : auth.FindPropertyValues("peer_dns")) dns.push_back(ToString(v));
  for (const auto& v : auth.FindPropertyValues("x509_common_name")) cn = ToString(v);
  return DescribeClaimed(uris, dns, cn);
}

std::string ListenerInstanceOf(const grpc::AuthContext& auth) {
  for (const auto& v : auth.FindPropertyValues(kListenerInstanceProperty)) return ToString(v);
  return "";
}

void ApplyServerDefaults(grpc::ServerBuilder* builder) {
  builder->AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder->SetMaxReceiveMessageSize(16 << 20);
  builder->SetMaxSendMessageSize(16 << 20);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 10000);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
}

std::string ListenerOf(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (!auth) return "";
  for (const auto& v : auth->FindPropertyValues(kListenerProperty)) return ToString(v);
  return "";
}

PeerPem PeerPemOf(const grpc::AuthContext& auth) {
  PeerPem pem;
  for (const auto& v : auth.FindPropertyValues("x509_pem_cert")) pem.leaf = ToString(v);
  for (const auto& v : auth.FindPropertyValues("x509_pem_cert_chain")) pem.chain = ToString(v);
  return pem;
}

namespace {

std::string NextInstanceId() {
  static std::atomic<uint64_t> next{1};
  return absl::StrCat(next.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace

ListenerSecurity::ListenerSecurity(ListenerOptions options,
                                   std::shared_ptr<const TrustSource> source)
    : options_(std::move(options)), source_(std::move(source)), instance_id_(NextInstanceId()) {}

absl::StatusOr<std::shared_ptr<ListenerSecurity>> ListenerSecurity::Create(
    ListenerOptions options, std::shared_ptr<const TrustSource> source) {
  // Fail start-up, not every handshake, on a bad identity.
  TF_RETURN_IF_ERROR(CheckIdentityFiles(options.certificate_file, options.key_file).status());
  if (options.client_auth == ClientAuth::kBearerToken && !options.call_authenticator) {
    return absl::InvalidArgumentError("listener: a bearer-token listener needs an authenticator");
  }
  if (options.refresh_interval_seconds < 1) options.refresh_interval_seconds = 1;

  std::shared_ptr<ListenerSecurity> self(new ListenerSecurity(std::move(options), source));
  self->verifier_ =
      std::make_shared<PeerVerifier>(self->options_.listener, source, self->options_.peer_cache);

  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      self->options_.key_file, self->options_.certificate_file,
      static_cast<unsigned>(self->options_.refresh_interval_seconds));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  std::shared_ptr<grpc::AuthMetadataProcessor> processor;
  if (self->options_.client_auth == ClientAuth::kMutualTls) {
    // DONT_VERIFY is safe only because our verifier is always installed.
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
    tls.set_certificate_verifier(
        ExternalCertificateVerifier::Create<HandshakeVerifier>(self->verifier_));
    processor =
        std::make_shared<MutualTlsCallProcessor>(self->verifier_, source, self->instance_id_);
  } else {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    processor = std::make_shared<BearerCallProcessor>(self->options_.call_authenticator, source,
                                                      self->instance_id_);
  }
  self->credentials_ = grpc::experimental::TlsServerCredentials(tls);
  self->credentials_->SetAuthMetadataProcessor(processor);

  // Open streams are re-checked on a thread of their own: a swap (and the
  // control plane's commit behind it) never waits for a pass over every
  // stream; the same thread ends streams when what admitted them expires.
  ListenerSecurity* raw = self.get();
  self->checker_ = std::thread([raw] { raw->RecheckLoop(); });
  std::weak_ptr<ListenerSecurity> weak = self;
  self->subscription_ =
      source->holder()->Subscribe([weak](const std::shared_ptr<const trust::TrustSnapshot>&) {
        if (auto strong = weak.lock()) strong->RequestRecheck();
      });
  return self;
}

ListenerSecurity::~ListenerSecurity() {
  if (subscription_ >= 0) {
    source_->holder()->Unsubscribe(subscription_);
  }
  {
    absl::MutexLock lock(&recheck_mu_);
    stopping_ = true;
  }
  if (checker_.joinable()) checker_.join();
  // Streams whose interceptor outlives this object: their references on the
  // core calls are released here (the interceptor then finds no owner).
  absl::flat_hash_map<uint64_t, TrackedStream> left;
  {
    absl::MutexLock lock(&mu_);
    left.swap(streams_);
  }
  for (auto& [id, stream] : left) grpc_call_unref(stream.call);
}

absl::StatusOr<PeerIdentityPtr> ListenerSecurity::PeerOf(
    const grpc::ServerContextBase& context) const {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  PemView pem = auth ? PemViewOf(*auth) : PemView{};
  if (pem.leaf.empty()) {
    return absl::UnauthenticatedError("identity: the call carries no client certificate");
  }
  std::string key = StoredChainKey(*auth);
  if (key.empty()) key = ChainKey(pem.leaf, pem.chain);
  return verifier_->VerifyPeer(key, pem.leaf, pem.chain);
}

}  // namespace trustfabric::tls
