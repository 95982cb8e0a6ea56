// The front-end's messaging rules (docs/design.md §1, §7, §8): who a client
// is, where a message goes, and what a client learns. gRPC-free;
// FrontEndService translates its calls and streams the mailboxes out.
// Calls to other nodes go through NodeCalls.
//
// Callers. Client calls (SignIn, Send, Receive) carry a bearer access token
// ("authorization: Bearer <jws>") of a registered token issuer; it must be
// a user+app token naming a user of this domain (upn or smtp claim).
// Which user+app tokens are accepted is the verifier's outer token policy
// (NodeConfig.frontend.outer_token; default signed, docs/outer-token.md).
// Node calls (Deliver) come from the domain's edges and front-ends over
// mutual TLS; the caller is the verified peer.
//
// Routing of Send: a recipient of this domain is looked up at the registrar
// and the message handed to the front-end serving them (this one or
// another, DeliverToFrontEnd); a recipient of another domain goes to this
// domain's edge. Offline recipients: see Mailboxes (bounded queue per user,
// bounded memory across users, expiry).
//
// What a client learns from a failed SignIn or Send is disclosure.h's: the
// class of the failure and the recipient it named, never a host name, an
// address or a relay path (those go to the log with the message id). A
// caller that keeps naming unknown recipients is slowed down by an
// UnknownRecipientLimiter: past its allowance every Send is refused with
// RESOURCE_EXHAUSTED "too many unknown recipients; retry after Ns".
//
//   node::Messaging messaging(&config, &holder, std::move(verifier), &calls, MailboxLimits{}, {});
//   TF_ASSIGN_OR_RETURN(node::Messaging::Caller alice, messaging.CallerOf(authorization));
//   TF_RETURN_IF_ERROR(messaging.SignIn(alice));
//   TF_ASSIGN_OR_RETURN(node::Messaging::Sent sent,
//                       messaging.Send(alice, "bob@fabrikam.test", "hello", absl::Now()));
#ifndef TRUSTFABRIC_SERVER_NODE_MESSAGING_H_
#define TRUSTFABRIC_SERVER_NODE_MESSAGING_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/tls/peer_verifier.h"
#include "common/token/verifier.h"
#include "common/trust/holder.h"
#include "server/node/mailboxes.h"
#include "server/node/node_calls.h"
#include "server/node/recipient_limiter.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

class Messaging {
 public:
  // A client, as its bearer token names it.
  struct Caller {
    std::string user;  // "alice@contoso.test"
    token::TokenIdentity token;
  };
  // An accepted Send.
  struct Sent {
    std::string message_id;
    std::string disposition;  // "delivered" or "queued"
  };

  // REQUIRES: `config`, `holder` and `calls` outlive the Messaging; `config`
  // is read on every call and not changed while calls run.
  Messaging(const v1::NodeConfig* config, const trust::SnapshotHolder* holder,
            std::unique_ptr<token::TokenVerifier> verifier, NodeCalls* calls,
            MailboxLimits mailboxes, UnknownRecipientLimiter::Options probing = {});

  // The client listener's per-call check: PERMISSION_DENIED "policy: <method>
  // is not served on the client listener" for anything but FrontEnd SignIn,
  // Send and Receive; otherwise CallerOf.
  absl::StatusOr<Caller> Authenticate(absl::string_view method,
                                      absl::string_view authorization) const;
  // The caller named by an "authorization" header: UNAUTHENTICATED "token:
  // missing authorization: bearer token", "token: authorization is not a
  // bearer token" or the verifier's "token: ..." reason; PERMISSION_DENIED
  // for an app-only token, a malformed user or a user of another domain.
  absl::StatusOr<Caller> CallerOf(absl::string_view authorization) const;

  // Registers `caller` at the registrar as served by this front-end.
  // Failures as ForSignInClient tells them (the detail is logged).
  absl::Status SignIn(const Caller& caller);

  // Sends a new message from `caller` (sent at `now`): INVALID_ARGUMENT
  // naming "to" or "body" for a malformed message; the limiter's
  // RESOURCE_EXHAUSTED; a routing failure as ForSendClient tells it (a
  // NOT_FOUND is charged to the caller).
  absl::StatusOr<Sent> Send(const Caller& caller, const std::string& to, const std::string& body,
                            absl::Time now);

  // Takes a message for a user of this domain from `caller` (an edge or a
  // front-end of the domain) into that user's mailbox: INVALID_ARGUMENT for
  // a malformed message or a recipient of another domain, Mailboxes'
  // RESOURCE_EXHAUSTED when the user's queue or all queues together are
  // full.
  absl::StatusOr<std::string> Deliver(const tls::PeerIdentity& caller, const v1::Message& message);

  Mailboxes& mailboxes() { return mailboxes_; }

 private:
  // The disposition, or where routing failed (for the log).
  absl::StatusOr<std::string> Route(const v1::Message& message);

  const std::string& trust_domain() const { return config_->trust_domain(); }

  const v1::NodeConfig* const config_;
  const trust::SnapshotHolder* const holder_;
  const std::unique_ptr<token::TokenVerifier> verifier_;
  NodeCalls* const calls_;
  Mailboxes mailboxes_;
  UnknownRecipientLimiter probing_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_MESSAGING_H_
