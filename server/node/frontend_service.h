// The FrontEnd gRPC service. Client calls (SignIn, Send, Receive) arrive
// on the client listener (server-authenticated TLS plus a bearer access
// token), node calls (Deliver) on the internal listener over mutual TLS from
// the domain's edges and front-ends. Who the caller is, where a message goes
// and what a client learns are Messaging's rules (messaging.h); the service
// translates protos and statuses, streams a user's mailbox out on Receive,
// and dials other nodes with GrpcNodeCalls.
//
//   node::FrontEndService service(&ctx, std::move(verifier), MailboxLimits{}, probing);
//   client_options.call_authenticator = [&service](auto method, auto authorization) {
//     return service.Authenticate(method, authorization);
//   };
//   builder.RegisterService(&service);
#ifndef TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/token/verifier.h"
#include "server/node/grpc_node_calls.h"
#include "server/node/mailboxes.h"
#include "server/node/messaging.h"
#include "server/node/node_context.h"
#include "server/node/recipient_limiter.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class FrontEndService final
    : public v1::FrontEnd::WithCallbackMethod_Receive<v1::FrontEnd::Service> {
 public:
  // REQUIRES: `ctx` outlives the service; ctx->channels is set.
  FrontEndService(const NodeContext* ctx, std::unique_ptr<token::TokenVerifier> verifier,
                  MailboxLimits mailboxes, UnknownRecipientLimiter::Options probing = {});

  // The client listener's per-call check (ListenerOptions::call_authenticator):
  // Messaging::Authenticate, as the user and the token's exp.
  absl::StatusOr<tls::CallAuthentication> Authenticate(absl::string_view method,
                                                       absl::string_view authorization) const;

  grpc::Status SignIn(grpc::ServerContext* context, const v1::SignInRequest* request,
                      v1::SignInResponse* response) override;
  grpc::Status Send(grpc::ServerContext* context, const v1::SendRequest* request,
                    v1::SendResponse* response) override;
  grpc::ServerWriteReactor<v1::Message>* Receive(grpc::CallbackServerContext* context,
                                                 const v1::ReceiveRequest* request) override;
  grpc::Status Deliver(grpc::ServerContext* context, const v1::DeliverRequest* request,
                       v1::DeliverResponse* response) override;

  Mailboxes& mailboxes() { return messaging_.mailboxes(); }

 private:
  class ReceiveStream;

  absl::StatusOr<Messaging::Caller> CallerOf(const grpc::ServerContextBase& context) const;

  const NodeContext* ctx_;
  GrpcNodeCalls calls_;
  Messaging messaging_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_
