// The Registrar gRPC service: front-ends register the users they serve;
// front-ends and edges look users up. A thin layer over Registry.
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
