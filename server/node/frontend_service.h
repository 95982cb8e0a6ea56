// The FrontEnd gRPC service.
//
// Client calls (SignIn, Send, Receive) arrive on the client listener with
// server-authenticated TLS and a bearer access token ("authorization:
// Bearer <jws>") of a registered token issuer; the token must be a user+app
// token naming a user of this domain (upn or smtp claim). Node calls
// (Deliver) arrive on the internal listener over mutual TLS from the
// domain's edges and front-ends.
//
// Which user+app tokens are accepted is the verifier's outer token policy
// (NodeConfig.frontend.outer_token; default signed, docs/outer-token.md).
//
// Routing of Send: a recipient of this domain is looked up at the registrar
// and the message handed to the front-end serving them (this one or
// another); a recipient of another domain goes to this domain's edge.
// Offline recipients: see Mailboxes (bounded queue per user).
//
// What a client learns from a failed SignIn or Send is disclosure.h's: the
// class of the failure and the recipient it named, never a host name, an
// address or a relay path (those go to the log with the message id). A
// caller that keeps naming unknown recipients is slowed down by an
// UnknownRecipientLimiter: past its allowance every Send is refused with
// RESOURCE_EXHAUSTED "too many unknown recipients; retry after Ns".
#ifndef TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_
#define TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/token/verifier.h"
#include "server/node/mailboxes.h"
#include "server/node/node_context.h"
#include "server/node/recipient_limiter.h"
#include "trustfabric/v1/node.grpc.pb.h"

namespace trustfabric::node {

class FrontEndService final
    : public v1::FrontEnd::WithCallbackMethod_Receive<v1::FrontEnd::Service> {
 public:
  // REQUIRES: `ctx` outlives the service.
  FrontEndService(const NodeContext* ctx, std::unique_ptr<token::TokenVerifier> verifier,
                  size_t offline_queue_limit, UnknownRecipientLimiter::Options probing = {});

  // The client listener's per-call check (ListenerOptions::call_authenticator):
  // the user and the token's exp.
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

  Mailboxes& mailboxes() { return mailboxes_; }

 private:
  class ReceiveStream;
  struct Caller {
    std::string user;
    token::TokenIdentity token;
  };

  absl::StatusOr<Caller> CallerFromAuthorization(absl::string_view authorization) const;
  absl::StatusOr<Caller> CallerOf(const grpc::ServerContextBase& context) const;
  absl::StatusOr<std::string> Route(const v1::Message& message);

  const NodeContext* ctx_;
  std::unique_ptr<token::TokenVerifier> verifier_;
  Mailboxes mailboxes_;
  UnknownRecipientLimiter probing_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_FRONTEND_SERVICE_H_
