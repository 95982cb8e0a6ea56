// Server-side transport security for one gRPC listener (docs/design.md §4).
//
// A ListenerSecurity owns the listener's credentials: the node's identity
// (reloaded from its files without a restart), a handshake verifier that
// checks the client's chain against the *current* trust snapshot, and a
// per-call processor that re-validates the chain (a cache lookup) and
// applies the method policy before any handler runs.
//
// Every long-lived call (client-, server- and bidi-streaming, gRPC's own
// Health/Watch and reflection included) is tracked by a server interceptor
// (InstallStreamTracking) and ends, cancelled with the refusal's code and
// reason, when its peer stops being trusted (re-checked after every
// snapshot swap) or when what admitted it expires: the earliest notAfter of
// the peer's chain, or a bearer token's exp. Handlers do nothing for it.
//
//   TF_ASSIGN_OR_RETURN(auto internal, tls::ListenerSecurity::Create(opts, source));
//   grpc::ServerBuilder builder;
//   tls::ApplyServerDefaults(&builder);
//   tls::InstallStreamTracking(&builder, {internal});
//   builder.AddListeningPort("127.0.0.2:7443", internal->credentials());
//   ...
//   // in a handler:
//   TF_ASSIGN_OR_RETURN(tls::PeerIdentityPtr peer, internal->PeerOf(*context));
#ifndef TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_
#define TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/peer_verifier.h"
#include "common/tls/trust_source.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

struct grpc_call;

namespace trustfabric::tls {

// How clients authenticate on a listener.
enum class ClientAuth {
  // Mutual TLS: a client certificate is required and verified in our code.
  kMutualTls,
  // Server-authenticated TLS; callers present a bearer token per call
  // (checked by ListenerOptions::call_authenticator).
  kBearerToken,
};

// What a bearer-token listener's authenticator admitted a call as.
struct CallAuthentication {
  // When the credential stops being valid (a token's exp); an open stream of
  // the call is cancelled then.
  absl::Time expires = absl::InfiniteFuture();
  // Who it names (e.g. the user), for log lines; peer-supplied text is
  // escaped where it is logged.
  std::string principal;
};

struct ListenerOptions {
  Listener listener = Listener::kInternal;
  ClientAuth client_auth = ClientAuth::kMutualTls;
  // PEM leaf + intermediates and its key; watched for rotation.
  std::string certificate_file;
  std::string key_file;
  int refresh_interval_seconds = 1;
  // For kBearerToken listeners: checks the `authorization` metadata of each
  // call (method = ":path"); a non-OK status refuses the call and reaches the
  // client unchanged. Also run when a stream is tracked and after every
  // snapshot swap for open streams. Required for kBearerToken.
  std::function<absl::StatusOr<CallAuthentication>(absl::string_view method,
                                                   absl::string_view authorization)>
      call_authenticator;
  // Bounds of this listener's verification cache (PeerVerifier).
  PeerCacheBounds peer_cache;
};

class ListenerSecurity : public std::enable_shared_from_this<ListenerSecurity> {
 public:
  // INVALID_ARGUMENT when the identity files are missing or do not form a
  // key/certificate pair (checked once here, so a bad path fails start-up
  // instead of every handshake).
  static absl::StatusOr<std::shared_ptr<ListenerSecurity>> Create(
      ListenerOptions options, std::shared_ptr<const TrustSource> source);
  ~ListenerSecurity();

  std::shared_ptr<grpc::ServerCredentials> credentials() const { return credentials_; }
  const PeerVerifier& verifier() const { return *verifier_; }
  const ListenerOptions& options() const { return options_; }

  // The verified caller of a call on this listener (mutual TLS only).
  // UNAUTHENTICATED when the call carries no client certificate.
  absl::StatusOr<PeerIdentityPtr> PeerOf(const grpc::ServerContextBase& context) const;

  // Re-checks every tracked stream now against the current snapshot and
  // the TrustSource's clock (also run, on the listener's checker thread,
  // after every snapshot swap). A stream refused or past its expiry is
  // cancelled with the refusal's code and "<rule>: <reason>" (expiry:
  // UNAUTHENTICATED "chain: certificate has expired ..." or "token: token
  // expired ...") and the rejection recorded. Between swaps the checker
  // thread wakes at the earliest expiry of the tracked streams, decided by
  // the TrustSource's clock; as that clock may be injected, it sleeps at
  // most 2 s while streams are open (tests may also move the clock and call
  // this directly).
  void RecheckStreams();

  // Streams tracked now (cancelled ones until their call ends), for tests.
  size_t tracked_streams() const;

  // Names this listener in the AuthContext of its calls (process-unique).
  const std::string& instance_id() const { return instance_id_; }

  // Test seam: runs in the stream interceptor after the per-call check and
  // before the stream is tracked (e.g. to commit a revocation there).
  void SetBeforeTrackHookForTesting(std::function<void(absl::string_view method)> hook);

 private:
  friend class StreamInterceptor;

  // One open stream. Holds a reference on the core call (released when the
  // entry goes), so cancelling never touches a ServerContext that may be
  // gone.
  struct TrackedStream {
    grpc_call* call = nullptr;
    std::string method;
    // Mutual TLS: the connection's chain.
    std::string leaf_pem;
    std::string chain_pem;
    std::string chain_key;
    // Bearer-token listeners: the call's `authorization` metadata.
    std::string authorization;
    // The escaped description of the peer for log lines: verified identity
    // once admitted, else what its certificate claims.
    std::string peer;
    // Until when the last admission holds.
    absl::Time expires = absl::InfiniteFuture();
    bool cancelled = false;
  };
  // The outcome of checking one stream.
  struct Admission {
    absl::Status status;
    absl::Time expires = absl::InfiniteFuture();
    std::string peer;
  };
  // A cancellation decided under mu_, carried out after it (with its own
  // reference on the call).
  struct Cancellation {
    grpc_call* call;
    std::string method;
    std::string peer;
    absl::Status status;
  };

  ListenerSecurity(ListenerOptions options, std::shared_ptr<const TrustSource> source);

  // Called by the stream interceptor once the call's metadata is in: inserts
  // the entry first, then checks it against the current snapshot, so a swap
  // either precedes that check or triggers a re-check that sees the entry.
  // Takes a reference on `call`. Returns the id for Untrack.
  uint64_t Track(grpc_call* call, std::string method, std::string leaf_pem, std::string chain_pem,
                 std::string chain_key, std::string authorization, std::string claimed_peer)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Untrack(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);
  std::function<void(absl::string_view)> before_track_hook() const;

  // Checks one stream against the current snapshot (mutual TLS: chain and
  // method policy; bearer: the authenticator).
  Admission Admit(const TrackedStream& stream) const;
  // Records `admission` on a stream not yet cancelled; adds a Cancellation
  // when it refuses or the admission has expired at `now`.
  void Apply(TrackedStream& stream, Admission admission, absl::Time now,
             std::vector<Cancellation>* cancel) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // UNAUTHENTICATED "chain: certificate has expired ..." or "token: token
  // expired ...".
  absl::Status ExpiredStatus(absl::Time expires) const;
  // Cancels expired streams only (the checker's timed wake-ups).
  void CheckExpiries() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time EarliestExpiry() ABSL_LOCKS_EXCLUDED(mu_);
  void Cancel(std::vector<Cancellation> cancel) ABSL_LOCKS_EXCLUDED(mu_);
  void RequestRecheck();
  void WakeChecker();
  void RecheckLoop();

  const ListenerOptions options_;
  const std::shared_ptr<const TrustSource> source_;
  const std::string instance_id_;
  std::shared_ptr<PeerVerifier> verifier_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  int subscription_ = -1;

  // The checker thread's wake-up reasons.
  absl::Mutex recheck_mu_;
  bool recheck_pending_ ABSL_GUARDED_BY(recheck_mu_) = false;
  bool wake_ ABSL_GUARDED_BY(recheck_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(recheck_mu_) = false;
  std::thread checker_;

  // The tracked streams. Never held while a call is cancelled or released:
  // gRPC may finish the call (and run the interceptor's destructor, which
  // takes mu_) on the cancelling thread.
  mutable absl::Mutex mu_;
  uint64_t next_stream_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, TrackedStream> streams_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex hook_mu_;
  std::function<void(absl::string_view)> before_track_hook_ ABSL_GUARDED_BY(hook_mu_);
};

// Registers the interceptor that tracks every client-, server- and
// bidi-streaming call (services, health, reflection, unknown methods) that
// arrives on one of `listeners` (null entries are skipped). Call once per
// builder, before BuildAndStart; it replaces interceptors set earlier. Calls
// on listeners not given here are not tracked.
void InstallStreamTracking(grpc::ServerBuilder* builder,
                           std::vector<std::shared_ptr<ListenerSecurity>> listeners);

// Server settings every trustfabric server uses: no SO_REUSEPORT (a stale
// server must not silently take half the connections), explicit message
// size limits, and a keepalive policy that admits trustfabric clients.
void ApplyServerDefaults(grpc::ServerBuilder* builder);

// Which kind of listener a call arrived on: "internal", "federation" or
// "client" (set by the listener's per-call processor), or "" if unknown.
std::string ListenerOf(const grpc::ServerContextBase& context);

// What the certificate of a call's connection claims (DescribeClaimed of its
// SANs): for refusals, where the chain is not, or no longer, verified.
std::string ClaimedPeerOf(const grpc::AuthContext& auth);

// The ListenerSecurity a call arrived through (its process-unique instance
// id, set by the per-call processors), or "".
std::string ListenerInstanceOf(const grpc::AuthContext& auth);

// The PEM leaf and intermediates gRPC recorded for the connection of a call.
struct PeerPem {
  std::string leaf;
  std::string chain;
};
PeerPem PeerPemOf(const grpc::AuthContext& auth);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_
