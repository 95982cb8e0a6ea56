// The Registrar gRPC service: front-ends register the users they serve;
// front-ends and edges look users up. It translates between the protos and
// Registrar (registrar.h: who may change which registration, the takeover
// rule) and takes the caller from the internal listener's mutual TLS.
//
//   node::RegistrarService service(&ctx, &registry);
//   builder.RegisterService(&service);
#ifndef TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_

#include "server/node/node_context.h"
#include "server/node/registrar.h"
#include "server/node/registry.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class RegistrarService final : public v1::Registrar::Service {
 public:
  // REQUIRES: `ctx` and `registry` outlive the service.
  RegistrarService(const NodeContext* ctx, Registry* registry)
      : ctx_(ctx), registrar_(registry, &ctx->config) {}

  grpc::Status Register(grpc::ServerContext* context, const v1::RegisterRequest* request,
                        v1::RegisterResponse* response) override;
  grpc::Status Unregister(grpc::ServerContext* context, const v1::UnregisterRequest* request,
                          v1::UnregisterResponse* response) override;
  grpc::Status Lookup(grpc::ServerContext* context, const v1::LookupRequest* request,
                      v1::LookupResponse* response) override;

 private:
  const NodeContext* ctx_;
  Registrar registrar_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_REGISTRAR_SERVICE_H_
