// EdgeRelay; see edge_relay.h.
#include "server/node/edge_relay.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/tls/rejections.h"
#include "common/tls/untrusted_text.h"
#include "server/node/disclosure.h"
#include "server/node/message_rules.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

constexpr absl::string_view kRelayMethod = "/trustfabric.v1.Edge/Relay";

}  // namespace

absl::StatusOr<v1::RelayResponse> EdgeRelay::Relay(Direction direction,
                                                   const tls::PeerIdentity& caller,
                                                   const v1::Message& message) {
  absl::StatusOr<v1::RelayResponse> relayed = [&]() -> absl::StatusOr<v1::RelayResponse> {
    TF_RETURN_IF_ERROR(ValidateMessage(message));
    return direction == Direction::kInbound ? Inbound(caller, message) : Outbound(caller, message);
  }();
  if (!relayed.ok()) {
    // Logged before validation may have passed: every field is the caller's.
    spdlog::info("relay refused message={} from={} to={} caller=\"{}\" code={} reason=\"{}\"",
                 tls::EscapeUntrusted(message.id(), 64), tls::EscapeUntrusted(message.from(), 128),
                 tls::EscapeUntrusted(message.to(), 128), tls::EscapeUntrusted(caller.Describe()),
                 CodeName(relayed.status().code()),
                 tls::EscapeUntrusted(relayed.status().message(), kMaxReasonBytes));
  }
  return relayed;
}

absl::StatusOr<v1::RelayResponse> EdgeRelay::Outbound(const tls::PeerIdentity& caller,
                                                      const v1::Message& message) {
  if (DomainOf(message.from()) != trust_domain()) {
    return absl::PermissionDeniedError(
        absl::StrCat("message.from: ", message.from(), " is not a user of ", trust_domain()));
  }
  const std::string partner = DomainOf(message.to());
  if (partner == trust_domain()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.to: ", message.to(), " is local; deliver it without the edge"));
  }
  std::shared_ptr<const trust::TrustSnapshot> snap = holder_->Get();
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
    absl::StatusOr<v1::RelayResponse> answer =
        calls_->Relay({ep.address(), ep.server_name(), partner, pki::Role::kEdge}, relay);
    if (answer.ok()) {
      if (answer->accepted_by().empty()) answer->set_accepted_by(ep.server_name());
      spdlog::info("relayed message={} from={} to={} for=\"{}\" via={}", message.id(),
                   message.from(), message.to(), caller.Describe(), ep.server_name());
      return answer;
    }
    // The partner's reason is its own text: escaped before it is logged or
    // passed on to our front-end (which tells its client only the class).
    last = absl::Status(
        answer.status().code(),
        absl::StrCat("relay to ", partner, " via ", ep.server_name(), ": ",
                     tls::EscapeUntrusted(answer.status().message(), kMaxReasonBytes)));
    // Only a transport failure moves on to the next edge; a refusal is final.
    if (!absl::IsUnavailable(last) && !absl::IsDeadlineExceeded(last)) return last;
  }
  return last;
}

absl::StatusOr<v1::RelayResponse> EdgeRelay::Inbound(const tls::PeerIdentity& caller,
                                                     const v1::Message& message) {
  // The federation listener is for partners; a peer of this domain has the
  // internal listener.
  if (caller.spiffe_id.trust_domain == trust_domain()) {
    absl::Status denied = absl::PermissionDeniedError(
        "policy: the federation listener relays only for partner domains");
    tls::RecordRejection("federation", caller.Describe(), kRelayMethod, denied);
    return denied;
  }
  // A partner may only speak for its own users: not for ours, not for a
  // third domain's.
  if (DomainOf(message.from()) != caller.spiffe_id.trust_domain) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("message.from: ", message.from(), " is not a user of the calling domain ",
                     caller.spiffe_id.trust_domain));
    tls::RecordRejection("federation", caller.Describe(), kRelayMethod, denied);
    return denied;
  }
  if (DomainOf(message.to()) != trust_domain()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.to: ", message.to(), " is not a user of ", trust_domain()));
  }
  absl::StatusOr<std::string> disposition = DeliverToFrontEnd(*config_, *calls_, message);
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
  v1::RelayResponse response;
  response.set_disposition(*disposition);
  response.set_accepted_by(config_->dns_name());
  spdlog::info("accepted message={} from={} to={} from_edge=\"{}\" disposition={}", message.id(),
               message.from(), message.to(), tls::EscapeUntrusted(caller.Describe()), *disposition);
  return response;
}

}  // namespace trustfabric::node
