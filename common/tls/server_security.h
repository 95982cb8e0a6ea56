// Server-side transport security for one gRPC listener (DESIGN.md §4).
//
// A ListenerSecurity owns the listener's credentials: the node's identity
// (reloaded from its files without a restart), a handshake verifier that
// checks the client's chain against the *current* trust snapshot, and a
// per-call processor that re-validates the chain (a cache lookup) and
// applies the method policy before any handler runs. Server streams of a
// peer that stops being trusted are cancelled when the snapshot changes.
//
//   TF_ASSIGN_OR_RETURN(auto security, tls::ListenerSecurity::Create(opts, source));
//   builder.AddListeningPort("127.0.0.2:7443", security->credentials());
//   ...
//   // in a handler:
//   TF_ASSIGN_OR_RETURN(tls::PeerIdentityPtr peer, security->PeerOf(*context));
//   // in a server-streaming handler (callback API):
//   stream_token_ = security->TrackStream(context, "/trustfabric.v1.FrontEnd/Receive");
#ifndef TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_
#define TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/tls/peer_verifier.h"
#include "common/tls/trust_source.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <grpcpp/server_context.h>

namespace trustfabric::tls {

// How clients authenticate on a listener.
enum class ClientAuth {
  // Mutual TLS: a client certificate is required and verified in our code.
  kMutualTls,
  // Server-authenticated TLS; callers present a bearer token per call
  // (checked by ListenerOptions::call_authenticator).
  kBearerToken,
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
  // client unchanged. Required for kBearerToken.
  std::function<absl::Status(absl::string_view method, absl::string_view authorization)>
      call_authenticator;
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

  // Keeps an open server stream under watch: when a new snapshot no longer
  // trusts its peer (or the policy refuses it), the stream is cancelled
  // (TryCancel) and the rejection logged. Destroy the token when the stream
  // ends (before `context` is gone).
  class StreamToken;
  std::unique_ptr<StreamToken> TrackStream(grpc::ServerContextBase* context, std::string method);

  // Re-checks every tracked stream now (also run, on the listener's checker
  // thread, after every snapshot swap).
  void RecheckStreams();

 private:
  struct TrackedStream {
    grpc::ServerContextBase* context;
    std::string method;
    std::string leaf_pem;
    std::string chain_pem;
    // Bearer-token listeners: the call's `authorization` metadata.
    std::string authorization;
    std::string chain_key;
  };

  ListenerSecurity(ListenerOptions options, std::shared_ptr<const TrustSource> source);
  void Untrack(uint64_t id);
  void RequestRecheck();
  void RecheckLoop();

  const ListenerOptions options_;
  const std::shared_ptr<const TrustSource> source_;
  std::shared_ptr<PeerVerifier> verifier_;
  std::shared_ptr<grpc::ServerCredentials> credentials_;
  int subscription_ = -1;

  absl::Mutex recheck_mu_;
  bool recheck_pending_ ABSL_GUARDED_BY(recheck_mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(recheck_mu_) = false;
  std::thread checker_;

  absl::Mutex mu_;
  uint64_t next_stream_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<uint64_t, TrackedStream> streams_ ABSL_GUARDED_BY(mu_);
};

class ListenerSecurity::StreamToken {
 public:
  ~StreamToken();
  StreamToken(const StreamToken&) = delete;
  StreamToken& operator=(const StreamToken&) = delete;

 private:
  friend class ListenerSecurity;
  StreamToken(std::weak_ptr<ListenerSecurity> owner, uint64_t id)
      : owner_(std::move(owner)), id_(id) {}
  std::weak_ptr<ListenerSecurity> owner_;
  uint64_t id_;
};

// Server settings every trustfabric server uses: no SO_REUSEPORT (a stale
// server must not silently take half the connections), explicit message
// size limits, and a keepalive policy that admits trustfabric clients.
void ApplyServerDefaults(grpc::ServerBuilder* builder);

// Which kind of listener a call arrived on: "internal", "federation" or
// "client" (set by the listener's per-call processor), or "" if unknown.
std::string ListenerOf(const grpc::ServerContextBase& context);

// The PEM leaf and intermediates gRPC recorded for the connection of a call.
struct PeerPem {
  std::string leaf;
  std::string chain;
};
PeerPem PeerPemOf(const grpc::AuthContext& auth);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_SERVER_SECURITY_H_
