// A gRPC listener behind trustfabric's own accept loop (docs/design.md §4,
// "Every listener survives floods"): the socket is bound and accepted by a
// net::AcceptLoop, which applies the listener's connection bounds and the
// process's descriptor budget, and hands each admitted connection to the
// gRPC server through its external connection acceptor, where TLS and
// everything after it run as on any gRPC port. Every network listener of
// tfnode and tfcontrol is one of these.
//
//   TF_ASSIGN_OR_RETURN(auto client, tls::GuardedListener::Bind(
//       "client", config.client_listen(), "client_listen"));
//   grpc::ServerBuilder builder;
//   tls::ApplyServerDefaults(&builder);
//   tls::ApplyHandshakeTimeout(&builder, {client.get()});
//   client->AddTo(&builder, security->credentials());
//   auto server = builder.BuildAndStart();
//   client->Start();              // only once the server runs
//   int port = client->port();
#ifndef TRUSTFABRIC_COMMON_TLS_GUARDED_LISTENER_H_
#define TRUSTFABRIC_COMMON_TLS_GUARDED_LISTENER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/net/accept_loop.h"
#include "trustfabric/v1/config.pb.h"

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

namespace trustfabric::tls {

// The bounds a ListenerConfig asks for, defaults filled in. INVALID_ARGUMENT
// names the field (under `field`, e.g. "client_listen.max_connections") and
// the rule it breaks.
absl::StatusOr<net::ListenerLimits> LimitsOf(const v1::ListenerConfig& config,
                                             const std::string& field);

class GuardedListener {
 public:
  // Binds config.address(); `name` names the listener in counters and log
  // lines ("internal", "client", "federation", "control"), `field` its place
  // in the configuration for error messages.
  static absl::StatusOr<std::unique_ptr<GuardedListener>> Bind(std::string name,
                                                               const v1::ListenerConfig& config,
                                                               const std::string& field);

  // Registers the listener with `builder` (before BuildAndStart).
  void AddTo(grpc::ServerBuilder* builder, std::shared_ptr<grpc::ServerCredentials> credentials);
  // Starts accepting (after BuildAndStart: gRPC closes connections handed
  // to a server that has not started).
  void Start();
  // Stops accepting; open connections are the server's to end.
  void Stop();

  int port() const { return loop_->port(); }
  const net::ListenerLimits& limits() const { return loop_->ledger().limits(); }
  const net::AcceptLoop& loop() const { return *loop_; }

 private:
  explicit GuardedListener(std::unique_ptr<net::AcceptLoop> loop) : loop_(std::move(loop)) {}

  std::unique_ptr<net::AcceptLoop> loop_;
  std::unique_ptr<grpc::experimental::ExternalConnectionAcceptor> acceptor_;
};

// Sets gRPC's server handshake timeout to the shortest of `listeners`'
// (one server, one timeout): a connection that has not completed TLS and
// sent its first HTTP/2 frames by then is closed.
void ApplyHandshakeTimeout(grpc::ServerBuilder* builder,
                           const std::vector<const GuardedListener*>& listeners);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_GUARDED_LISTENER_H_
