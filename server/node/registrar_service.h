// The Registrar gRPC service: front-ends register the users they serve;
// front-ends and edges look users up. A thin layer over Registry.
//
// Who may change a registration (the internal listener's policy admits only
// front-ends of this domain to Register and Unregister):
//   * Register: a front-end registers users for itself only; naming another
//     front-end in `frontend` is PERMISSION_DENIED.
//   * Takeover: Register of a user currently registered to another
//     front-end moves the user to the caller. This is the rule on purpose:
//     a front-end registers a user only after verifying that user's token
//     at SignIn, and the newest sign-in wins (as the newest Receive stream
//     does), so a user whose front-end went away is never stuck there. The
//     move is logged with both front-ends.
//   * Unregister: only the front-end the user is registered to;
//     PERMISSION_DENIED for any other (the registration is unchanged),
//     NOT_FOUND when the user is not registered.
#ifndef TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_

#include "server/node/node_context.h"
#include "server/node/registry.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class RegistrarService final : public v1::Registrar::Service {
 public:
  // REQUIRES: `ctx` and `registry` outlive the service.
  RegistrarService(const NodeContext* ctx, Registry* registry) : ctx_(ctx), registry_(registry) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status Unregister(grpc::ServerContext* context, const v1::UnregisterRequest* request,
                          v1::UnregisterResponse* response) override;
  grpc::Status Lookup(grpc::ServerContext* context, const v1::LookupRequest* request,
                      v1::LookupResponse* response) override;

 private:
  const NodeContext* ctx_;
  Registry* registry_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_
