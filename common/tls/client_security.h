// Client-side transport security: channels that present the node's identity
// and verify the server against the target domain's current bundle, with
// the server's DNS SAN equal to the dialed name and its SPIFFE role one the
// caller expects (docs/design.md §4).
//
// Channels are long-lived and shared per target; a channel is rebuilt when
// the bundle it was verified with changes (roots, revocations, or the
// federation peer), so connections made under an old bundle are not reused.
//
//   TF_ASSIGN_OR_RETURN(auto channels, tls::ChannelCache::Create(identity, source));
//   auto stub = v1::Edge::NewStub(channels->Get(
//       tls::Target("127.0.0.13:7443", "edge1.fabrikam.test", "fabrikam.test",
//                   {pki::Role::kEdge})));
#ifndef TRUSTFABRIC_COMMON_TLS_CLIENT_SECURITY_H_
#define TRUSTFABRIC_COMMON_TLS_CLIENT_SECURITY_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/pki/spiffe.h"
#include "common/tls/trust_source.h"

#include <grpcpp/channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

namespace grpc::experimental {
class CertificateProviderInterface;
}

namespace trustfabric::tls {

struct ClientIdentity {
  // PEM leaf + intermediates and its key; watched for rotation.
  std::string certificate_file;
  std::string key_file;
  int refresh_interval_seconds = 1;
};

struct Target {
  // Every field is required: a target without the server roles it expects
  // would refuse every server, so leaving them out does not compile.
  Target() = default;
  Target(std::string address, std::string server_name, std::string trust_domain,
         std::vector<pki::Role> server_roles)
      : address(std::move(address)),
        server_name(std::move(server_name)),
        trust_domain(std::move(trust_domain)),
        server_roles(std::move(server_roles)) {}

  // "host:port" to connect to.
  std::string address;
  // The DNS name the server certificate must carry (also SNI and
  // :authority), e.g. "edge1.fabrikam.test".
  std::string server_name;
  // The trust domain whose bundle verifies the server.
  std::string trust_domain;
  // The roles the server's SPIFFE ID may have (e.g. {kControl} for the
  // control plane). A server of another role is refused ("identity: server
  // spiffe://... has role frontend, expected edge"); an empty list refuses
  // every server.
  std::vector<pki::Role> server_roles;

  std::string Key() const;
};

// Largest message any trustfabric channel or server accepts.
inline constexpr int kMaxMessageBytes = 16 << 20;

class ChannelCache {
 public:
  // INVALID_ARGUMENT when the identity files are unreadable or mismatched.
  static absl::StatusOr<std::shared_ptr<ChannelCache>> Create(
      ClientIdentity identity, std::shared_ptr<const TrustSource> source);

  // The shared channel for `target`; a new one when none exists or the
  // bundle that verifies `target` changed since it was made.
  std::shared_ptr<grpc::Channel> Get(const Target& target);

  // A fresh, unshared channel (benchmarks and tools that need one
  // connection per channel).
  std::shared_ptr<grpc::Channel> NewChannel(const Target& target) const;

  // How many channels were built (rebuilds included), for tests.
  uint64_t channels_built() const;

 private:
  struct Entry {
    std::shared_ptr<grpc::Channel> channel;
    std::string bundle;
  };

  ChannelCache(ClientIdentity identity, std::shared_ptr<const TrustSource> source);
  std::string BundleFingerprint(const std::string& trust_domain) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ClientIdentity identity_;
  const std::shared_ptr<const TrustSource> source_;
  std::shared_ptr<grpc::experimental::CertificateProviderInterface> provider_;

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> channels_ ABSL_GUARDED_BY(mu_);
  // Fingerprints per trust domain, valid for fingerprint_revision_ of
  // generation fingerprint_epoch_ (revisions repeat across generations).
  uint64_t fingerprint_revision_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t fingerprint_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<std::string, std::string> fingerprints_ ABSL_GUARDED_BY(mu_);
  mutable absl::Mutex built_mu_;
  mutable uint64_t built_ ABSL_GUARDED_BY(built_mu_) = 0;
};

// Channel arguments every trustfabric channel uses: target name override,
// message size limits, keepalive compatible with trustfabric servers.
grpc::ChannelArguments DefaultChannelArguments(const Target& target);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_CLIENT_SECURITY_H_
