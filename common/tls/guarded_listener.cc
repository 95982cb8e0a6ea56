#include "common/tls/guarded_listener.h"

#include <unistd.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"

#include <grpcpp/support/byte_buffer.h>

namespace trustfabric::tls {
namespace {

constexpr absl::Duration kMaxHandshakeTimeout = absl::Seconds(10);
constexpr absl::Duration kMinHandshakeTimeout = absl::Seconds(1);

absl::Status Positive(int value, int* out, const std::string& field) {
  if (value < 0) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be negative"));
  if (value > 0) *out = value;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<net::ListenerLimits> LimitsOf(const v1::ListenerConfig& config,
                                             const std::string& field) {
  net::ListenerLimits limits;
  const std::string p = absl::StrCat(field, ".");
  TF_RETURN_IF_ERROR(
      Positive(config.max_connections(), &limits.max_connections, p + "max_connections"));
  TF_RETURN_IF_ERROR(Positive(config.max_connections_per_source(),
                              &limits.max_connections_per_source,
                              p + "max_connections_per_source"));
  TF_RETURN_IF_ERROR(
      Positive(config.max_handshaking(), &limits.max_handshaking, p + "max_handshaking"));
  TF_RETURN_IF_ERROR(Positive(config.max_handshaking_per_source(),
                              &limits.max_handshaking_per_source,
                              p + "max_handshaking_per_source"));
  if (config.handshake_timeout_seconds() != 0) {
    const absl::Duration t = absl::Seconds(config.handshake_timeout_seconds());
    if (t < kMinHandshakeTimeout || t > kMaxHandshakeTimeout) {
      return absl::InvalidArgumentError(absl::StrCat(
          p, "handshake_timeout_seconds: must be from ",
          absl::ToInt64Seconds(kMinHandshakeTimeout), " to ",
          absl::ToInt64Seconds(kMaxHandshakeTimeout)));
    }
    limits.handshake_timeout = t;
  }
  if (limits.max_connections_per_source > limits.max_connections) {
    return absl::InvalidArgumentError(
        absl::StrCat(p, "max_connections_per_source: must not exceed max_connections"));
  }
  if (limits.max_handshaking_per_source > limits.max_handshaking) {
    return absl::InvalidArgumentError(
        absl::StrCat(p, "max_handshaking_per_source: must not exceed max_handshaking"));
  }
  return limits;
}

absl::StatusOr<std::unique_ptr<GuardedListener>> GuardedListener::Bind(
    std::string name, const v1::ListenerConfig& config, const std::string& field) {
  TF_ASSIGN_OR_RETURN(net::ListenerLimits limits, LimitsOf(config, field));
  auto loop = net::AcceptLoop::Bind(std::move(name), config.address(), limits);
  if (!loop.ok()) {
    return absl::Status(loop.status().code(),
                        absl::StrCat(field, ".address: ", loop.status().message()));
  }
  return std::unique_ptr<GuardedListener>(new GuardedListener(*std::move(loop)));
}

void GuardedListener::AddTo(grpc::ServerBuilder* builder,
                            std::shared_ptr<grpc::ServerCredentials> credentials) {
  acceptor_ = builder->experimental().AddExternalConnectionAcceptor(
      grpc::ServerBuilder::experimental_type::ExternalConnectionType::FROM_FD,
      std::move(credentials));
}

void GuardedListener::Start() {
  grpc::experimental::ExternalConnectionAcceptor* acceptor = acceptor_.get();
  loop_->Start([acceptor](int listener_fd, int fd) {
    grpc::experimental::ExternalConnectionAcceptor::NewConnectionParameters p;
    p.listener_fd = listener_fd;
    p.fd = fd;
    acceptor->HandleNewConnection(&p);
  });
}

void GuardedListener::Stop() { loop_->Stop(); }

void ApplyHandshakeTimeout(grpc::ServerBuilder* builder,
                           const std::vector<const GuardedListener*>& listeners) {
  absl::Duration shortest = kMaxHandshakeTimeout;
  for (const GuardedListener* l : listeners) {
    if (l != nullptr) shortest = std::min(shortest, l->limits().handshake_timeout);
  }
  builder->AddChannelArgument(GRPC_ARG_SERVER_HANDSHAKE_TIMEOUT_MS,
                              static_cast<int>(absl::ToInt64Milliseconds(shortest)));
}

}  // namespace trustfabric::tls
