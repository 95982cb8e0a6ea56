// Conversions between absl::Status and grpc::Status (same codes, same
// message), for the thin gRPC layers.
//
//   return tls::ToGrpcStatus(registrar_.Register(user));
#ifndef TRUSTFABRIC_COMMON_TLS_GRPC_STATUS_H_
#define TRUSTFABRIC_COMMON_TLS_GRPC_STATUS_H_

#include <string>

#include "absl/status/status.h"

#include <grpcpp/support/status.h>

namespace trustfabric::tls {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), s.error_message());
}

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_GRPC_STATUS_H_
