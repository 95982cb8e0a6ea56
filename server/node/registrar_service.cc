// RegistrarService; see registrar_service.h.
#include "server/node/registrar_service.h"

#include "common/time/proto_time.h"
#include "common/tls/grpc_status.h"

namespace trustfabric::node {

using tls::ToGrpcStatus;

grpc::Status RegistrarService::Register(grpc::ServerContext* context,
                                        const v1::RegisterRequest* request, v1::RegisterResponse*) {
  absl::StatusOr<tls::PeerIdentityPtr> caller = ctx_->internal->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(registrar_.Register(**caller, request->user(), request->frontend()));
}

grpc::Status RegistrarService::Unregister(grpc::ServerContext* context,
                                          const v1::UnregisterRequest* request,
                                          v1::UnregisterResponse*) {
  absl::StatusOr<tls::PeerIdentityPtr> caller = ctx_->internal->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  return ToGrpcStatus(registrar_.Unregister(**caller, request->user()));
}

grpc::Status RegistrarService::Lookup(grpc::ServerContext*, const v1::LookupRequest* request,
                                      v1::LookupResponse* response) {
  absl::StatusOr<Registration> r = registrar_.Lookup(request->user());
  if (!r.ok()) return ToGrpcStatus(r.status());
  response->set_user(r->user);
  response->set_frontend(r->frontend);
  response->set_frontend_address(r->frontend_address);
  *response->mutable_registered_at() = ToProtoTimeSeconds(r->registered_at);
  return grpc::Status::OK;
}

}  // namespace trustfabric::node
