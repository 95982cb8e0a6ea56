// EdgeService; see edge_service.h.
#include "server/node/edge_service.h"

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/tls/grpc_status.h"
#include "common/tls/rejections.h"
#include "common/tls/untrusted_text.h"
#include "server/node/disclosure.h"
#include "server/node/message_rules.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {

using tls::FromGrpcStatus;
using tls::ToGrpcStatus;

absl::StatusOr<std::string> DeliverToFrontEnd(const NodeContext& ctx, const v1::Message& message) {
  TF_ASSIGN_OR_RETURN(tls::Target registrar, ctx.RegistrarTarget());
  v1::LookupRequest lookup;
  lookup.set_user(message.to());
  v1::LookupResponse found;
  auto call = NodeCallContext();
  absl::Status status = FromGrpcStatus(
      v1::Registrar::NewStub(ctx.channels->Get(registrar))->Lookup(call.get(), lookup, &found));
  if (!status.ok()) return Annotate(status, "registrar");

  v1::DeliverRequest deliver;
  *deliver.mutable_message() = message;
  v1::DeliverResponse delivered;
  auto call2 = NodeCallContext();
  status = FromGrpcStatus(
      v1::FrontEnd::NewStub(
          ctx.channels->Get({found.frontend_address(), found.frontend(), ctx.trust_domain(),
                             {pki::Role::kFrontend}}))
          ->Deliver(call2.get(), deliver, &delivered));
  if (!status.ok()) return Annotate(status, found.frontend());
  return delivered.disposition();
}

grpc::Status EdgeService::Relay(grpc::ServerContext* context, const v1::RelayRequest* request,
                                v1::RelayResponse* response) {
  tls::ListenerSecurity* security = ctx_->SecurityOf(*context);
  absl::StatusOr<tls::PeerIdentityPtr> caller = security->PeerOf(*context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  absl::Status status = ValidateMessage(request->message());
  if (status.ok()) {
    status = security == ctx_->federation.get() ? RelayIn(**caller, request->message(), response)
                                                : RelayOut(**caller, request->message(), response);
  }
  if (!status.ok()) {
    // Logged before validation may have passed: every field is the caller's.
    spdlog::info("relay refused message={} from={} to={} caller=\"{}\" code={} reason=\"{}\"",
                 tls::EscapeUntrusted(request->message().id(), 64), tls::EscapeUntrusted(request->message().from(), 128),
                 tls::EscapeUntrusted(request->message().to(), 128), tls::EscapeUntrusted((*caller)->Describe()),
                 CodeName(status.code()), tls::EscapeUntrusted(status.message(), kMaxReasonBytes));
  }
  return ToGrpcStatus(status);
}

absl::Status EdgeService::RelayOut(const tls::PeerIdentity& caller, const v1::Message& message,
                                   v1::RelayResponse* response) {
  if (DomainOf(message.from()) != ctx_->trust_domain()) {
    return absl::PermissionDeniedError(
        absl::StrCat("message.from: ", message.from(), " is not a user of ", ctx_->trust_domain()));
  }
  const std::string partner = DomainOf(message.to());
  if (partner == ctx_->trust_domain()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.to: ", message.to(), " is local; deliver it without the edge"));
  }
  std::shared_ptr<const trust::TrustSnapshot> snap = ctx_->holder->Get();
  if (!snap) return absl::FailedPreconditionError("no trust snapshot yet");
  const trust::PeerEntry* peer = snap->FindPeer(partner);
  if (peer == nullptr) {
    return absl::NotFoundError(absl::StrCat("no federation peer for ", partner));
  }
  if (!peer->proto.enabled()) {
    return absl::FailedPreconditionError(absl::StrCat("federation peer ", partner, " is disabled"));
  }
  if (!peer->inert_reason.empty()) return absl::FailedPreconditionError(peer->inert_reason);
  if (peer->proto.endpoints().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("federation peer ", partner, " lists no endpoints"));
  }
  v1::RelayRequest relay;
  *relay.mutable_message() = message;
  absl::Status last;
  for (const v1::Endpoint& ep : peer->proto.endpoints()) {
    auto call = NodeCallContext();
    v1::RelayResponse answer;
    last = FromGrpcStatus(
        v1::Edge::NewStub(
            ctx_->channels->Get({ep.address(), ep.server_name(), partner, {pki::Role::kEdge}}))
            ->Relay(call.get(), relay, &answer));
    if (last.ok()) {
      *response = answer;
      if (response->accepted_by().empty()) response->set_accepted_by(ep.server_name());
      spdlog::info("relayed message={} from={} to={} for=\"{}\" via={}", message.id(),
                   message.from(), message.to(), caller.Describe(), ep.server_name());
      return absl::OkStatus();
    }
    // The partner's reason is its own text: escaped before it is logged or
    // passed on to our front-end (which tells its client only the class).
    last = absl::Status(last.code(), absl::StrCat("relay to ", partner, " via ", ep.server_name(),
                                                  ": ", tls::EscapeUntrusted(last.message(), kMaxReasonBytes)));
    // Only a transport failure moves on to the next edge; a refusal is final.
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) return last;
  }
  return last;
}

absl::Status EdgeService::RelayIn(const tls::PeerIdentity& caller, const v1::Message& message,
                                  v1::RelayResponse* response) {
  // The federation listener is for partners; a peer of this domain has the
  // internal listener.
  if (caller.spiffe_id.trust_domain == ctx_->trust_domain()) {
    absl::Status denied = absl::PermissionDeniedError(
        "policy: the federation listener relays only for partner domains");
    tls::RecordRejection("federation", caller.Describe(), "/trustfabric.v1.Edge/Relay", denied);
    return denied;
  }
  // A partner may only speak for its own users: not for ours, not for a
  // third domain's.
  if (DomainOf(message.from()) != caller.spiffe_id.trust_domain) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("message.from: ", message.from(), " is not a user of the calling domain ",
                     caller.spiffe_id.trust_domain));
    tls::RecordRejection("federation", caller.Describe(), "/trustfabric.v1.Edge/Relay", denied);
    return denied;
  }
  if (DomainOf(message.to()) != ctx_->trust_domain()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.to: ", message.to(), " is not a user of ", ctx_->trust_domain()));
  }
  absl::StatusOr<std::string> disposition = DeliverToFrontEnd(*ctx_, message);
  if (!disposition.ok()) {
    // Our registrar's and front-ends' names and addresses stay in this log.
    spdlog::info(
        "inbound relay failed message={} from={} to={} from_edge=\"{}\" code={} "
        "reason=\"{}\"",
        message.id(), message.from(), message.to(), tls::EscapeUntrusted(caller.Describe()),
        CodeName(disposition.status().code()),
        tls::EscapeUntrusted(disposition.status().message(), kMaxReasonBytes));
    return ForPartnerEdge(disposition.status(), message.to());
  }
  response->set_disposition(*disposition);
  response->set_accepted_by(ctx_->dns_name());
  spdlog::info("accepted message={} from={} to={} from_edge=\"{}\" disposition={}", message.id(),
               message.from(), message.to(), tls::EscapeUntrusted(caller.Describe()), *disposition);
  return absl::OkStatus();
}

}  // namespace trustfabric::node
