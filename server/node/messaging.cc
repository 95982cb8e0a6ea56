// Messaging; see messaging.h.
#include "server/node/messaging.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/tls/untrusted_text.h"
#include "server/node/disclosure.h"
#include "server/node/message_rules.h"
#include "server/node/registry.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

constexpr absl::string_view kSignIn = "/trustfabric.v1.FrontEnd/SignIn";
constexpr absl::string_view kSend = "/trustfabric.v1.FrontEnd/Send";
constexpr absl::string_view kReceive = "/trustfabric.v1.FrontEnd/Receive";

}  // namespace

Messaging::Messaging(const v1::NodeConfig* config, const trust::SnapshotHolder* holder,
                     std::unique_ptr<token::TokenVerifier> verifier, NodeCalls* calls,
                     MailboxLimits mailboxes, UnknownRecipientLimiter::Options probing)
    : config_(config),
      holder_(holder),
      verifier_(std::move(verifier)),
      calls_(calls),
      mailboxes_(mailboxes),
      probing_(std::move(probing)) {}

absl::StatusOr<Messaging::Caller> Messaging::CallerOf(absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError("token: missing authorization: bearer token");
  }
  if (authorization.size() < 7 || !absl::EqualsIgnoreCase(authorization.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError("token: authorization is not a bearer token");
  }
  TF_ASSIGN_OR_RETURN(
      token::TokenIdentity identity,
      verifier_->Verify(absl::StripAsciiWhitespace(authorization.substr(7)), holder_->Get()));
  if (identity.kind != token::TokenKind::kUserAndApp || !identity.user.has_value()) {
    return absl::PermissionDeniedError(
        "token: an app-only token names no user; sign in with a user+app token");
  }
  const std::string& user = !identity.user->upn.empty() ? identity.user->upn : identity.user->smtp;
  std::string domain;
  absl::Status parsed = ParseUser(user, "token: user (upn or smtp claim)", nullptr, &domain);
  if (!parsed.ok()) return absl::PermissionDeniedError(parsed.message());
  if (domain != trust_domain()) {
    return absl::PermissionDeniedError(
        absl::StrCat("token: user ", user, " is not a user of ", trust_domain()));
  }
  return Caller{user, std::move(identity)};
}

absl::StatusOr<Messaging::Caller> Messaging::Authenticate(absl::string_view method,
                                                          absl::string_view authorization) const {
  if (method != kSignIn && method != kSend && method != kReceive) {
    return absl::PermissionDeniedError(absl::StrCat("policy: ", tls::EscapeUntrusted(method),
                                                    " is not served on the client listener"));
  }
  return CallerOf(authorization);
}

absl::Status Messaging::SignIn(const Caller& caller) {
  absl::StatusOr<NodeTarget> registrar = RegistrarOf(*config_);
  if (!registrar.ok()) {
    spdlog::error("sign-in failed user={}: {}", caller.user,
                  std::string(registrar.status().message()));
    return ForSignInClient(registrar.status());
  }
  v1::RegisterRequest reg;
  reg.set_user(caller.user);
  reg.set_frontend(config_->dns_name());
  absl::Status status = calls_->Register(*registrar, reg);
  if (!status.ok()) {
    spdlog::warn("sign-in failed user={} registrar={} code={} reason=\"{}\"", caller.user,
                 registrar->server_name, CodeName(status.code()),
                 tls::EscapeUntrusted(status.message(), kMaxReasonBytes));
    return ForSignInClient(status);
  }
  spdlog::info("signed in user={} app={} issuer={}", caller.user, caller.token.client_id,
               caller.token.issuer);
  return absl::OkStatus();
}

absl::StatusOr<std::string> Messaging::Route(const v1::Message& message) {
  if (DomainOf(message.to()) != trust_domain()) {
    TF_ASSIGN_OR_RETURN(NodeTarget edge, EdgeOf(*config_));
    v1::RelayRequest relay;
    *relay.mutable_message() = message;
    absl::StatusOr<v1::RelayResponse> relayed = calls_->Relay(edge, relay);
    if (!relayed.ok()) return Annotate(relayed.status(), edge.server_name);
    return relayed->disposition();
  }
  return DeliverToFrontEnd(*config_, *calls_, message);
}

absl::StatusOr<Messaging::Sent> Messaging::Send(const Caller& caller, const std::string& to,
                                                const std::string& body, absl::Time now) {
  v1::Message message;
  message.set_id(NewMessageId());
  message.set_from(caller.user);
  message.set_to(to);
  message.set_body(body);
  *message.mutable_sent_at() = ToProtoTimeSeconds(now);
  absl::Status valid = ValidateMessage(message);
  if (!valid.ok()) {
    // The client named "to" and "body"; name those fields.
    std::string text(valid.message());
    if (absl::StartsWith(text, "message.")) text = text.substr(8);
    return absl::InvalidArgumentError(text);
  }
  // After validation (a malformed address is no probe), before any lookup.
  if (absl::Status allowed = probing_.Check(caller.user); !allowed.ok()) {
    spdlog::warn("send refused message={} from={} to={}: {}", message.id(), message.from(),
                 message.to(), std::string(allowed.message()));
    return allowed;
  }
  absl::StatusOr<std::string> disposition = Route(message);
  if (!disposition.ok()) {
    // The detail (hosts, relay path, the partner's words) stays here.
    spdlog::info("send failed message={} from={} to={} code={} reason=\"{}\"", message.id(),
                 message.from(), message.to(), CodeName(disposition.status().code()),
                 tls::EscapeUntrusted(disposition.status().message(), kMaxReasonBytes));
    if (absl::IsNotFound(disposition.status())) probing_.RecordUnknown(caller.user);
    return ForSendClient(disposition.status(), message.to(), message.id());
  }
  spdlog::info("sent message={} from={} to={} disposition={}", message.id(), message.from(),
               message.to(), *disposition);
  return Sent{message.id(), *std::move(disposition)};
}

absl::StatusOr<std::string> Messaging::Deliver(const tls::PeerIdentity& caller,
                                               const v1::Message& message) {
  TF_RETURN_IF_ERROR(ValidateMessage(message));
  if (DomainOf(message.to()) != trust_domain()) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.to: ", message.to(), " is not a user of ", trust_domain()));
  }
  TF_ASSIGN_OR_RETURN(std::string disposition, mailboxes_.Deliver(message));
  spdlog::info("delivered message={} from={} to={} via=\"{}\" disposition={}", message.id(),
               message.from(), message.to(), caller.Describe(), disposition);
  return disposition;
}

}  // namespace trustfabric::node
