// RegistrarService; see registrar_service.h.
#include "server/node/registrar_service.h"

#include "absl/strings/str_cat.h"
#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"
#include "common/tls/rejections.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {

using tls::ToGrpcStatus;

grpc::Status RegistrarService::Register(grpc::ServerContext* context,
                                        const v1::RegisterRequest* request, v1::RegisterResponse*) {
  absl::StatusOr<tls::PeerIdentityPtr> caller = ctx_->internal->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  // A front-end registers users for itself only.
  const std::string frontend =
      request->frontend().empty() ? (*caller)->dns_name : request->frontend();
  if (frontend != (*caller)->dns_name) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("frontend: ", (*caller)->dns_name, " may not register users for ", frontend));
    tls::RecordRejection("internal", (*caller)->Describe(), "/trustfabric.v1.Registrar/Register",
                         denied);
    return ToGrpcStatus(denied);
  }
  absl::StatusOr<std::string> address = ctx_->AddressOf(frontend);
  if (!address.ok()) {
    return ToGrpcStatus(
        absl::FailedPreconditionError(absl::StrCat("frontend: ", address.status().message())));
  }
  absl::StatusOr<Registration> previous = registry_->Lookup(request->user());
  absl::Status status = registry_->Register(request->user(), frontend, *address);
  if (status.ok() && previous.ok() && previous->frontend != frontend) {
    spdlog::info("user {} moved from {} to {} (newest sign-in wins)", previous->user,
                 previous->frontend, frontend);
  }
  return ToGrpcStatus(status);
}

grpc::Status RegistrarService::Unregister(grpc::ServerContext* context,
                                          const v1::UnregisterRequest* request,
                                          v1::UnregisterResponse*) {
  absl::StatusOr<tls::PeerIdentityPtr> caller = ctx_->internal->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::StatusOr<Registration> current = registry_->Lookup(request->user());
  if (!current.ok()) return ToGrpcStatus(current.status());
  if (current->frontend != (*caller)->dns_name) {
    return ToGrpcStatus(absl::PermissionDeniedError(
        absl::StrCat("user ", request->user(), " is served by ", current->frontend, ", not ",
                     (*caller)->dns_name)));
  }
  return ToGrpcStatus(registry_->Unregister(request->user()));
}

grpc::Status RegistrarService::Lookup(grpc::ServerContext*, const v1::LookupRequest* request,
                                      v1::LookupResponse* response) {
  absl::StatusOr<Registration> r = registry_->Lookup(request->user());
  if (!r.ok()) return ToGrpcStatus(r.status());
  response->set_user(r->user);
  response->set_frontend(r->frontend);
  response->set_frontend_address(r->frontend_address);
  *response->mutable_registered_at() = ToProtoTimeSeconds(r->registered_at);
  return grpc::Status::OK;
}

}  // namespace trustfabric::node
