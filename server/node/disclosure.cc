// What leaves a node on failure; see disclosure.h.
#include "server/node/disclosure.h"

#include "absl/strings/str_cat.h"
#include "common/tls/untrusted_text.h"
#include "server/node/message_rules.h"

namespace trustfabric::node {
namespace {

// The classes of failure a caller outside the domain is told apart.
enum class Outcome {
  kOk,
  kNoSuchRecipient,  // NOT_FOUND
  kFull,             // RESOURCE_EXHAUSTED
  kUnreachable,      // UNAVAILABLE, DEADLINE_EXCEEDED
  kRefused,          // every other code
};

Outcome OutcomeOf(const absl::Status& failure) {
  switch (failure.code()) {
    case absl::StatusCode::kOk:
      return Outcome::kOk;
    case absl::StatusCode::kNotFound:
      return Outcome::kNoSuchRecipient;
    case absl::StatusCode::kResourceExhausted:
      return Outcome::kFull;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return Outcome::kUnreachable;
    default:
      return Outcome::kRefused;
  }
}

// "<field>: no such recipient <to>" and "<field>: <to> cannot take more
// messages now<suffix>", with `to` escaped.
absl::Status NoSuchRecipient(absl::string_view field, const std::string& to) {
  return absl::NotFoundError(absl::StrCat(field, ": no such recipient ", tls::EscapeUntrusted(to)));
}
absl::Status CannotTakeMore(absl::string_view field, const std::string& to,
                            absl::string_view suffix) {
  return absl::ResourceExhaustedError(absl::StrCat(field, ": ", tls::EscapeUntrusted(to),
                                                   " cannot take more messages now", suffix));
}

}  // namespace

absl::Status ForSendClient(const absl::Status& failure, const std::string& to,
                           const std::string& message_id) {
  const std::string domain = tls::EscapeUntrusted(DomainOf(to));
  const std::string message = absl::StrCat("(message ", message_id, ")");
  switch (OutcomeOf(failure)) {
    case Outcome::kOk:
      return absl::OkStatus();
    case Outcome::kNoSuchRecipient:
      return NoSuchRecipient("to", to);
    case Outcome::kFull:
      return CannotTakeMore("to", to, absl::StrCat("; retry later ", message));
    case Outcome::kUnreachable:
      return absl::UnavailableError(
          absl::StrCat("to: ", domain, " cannot be reached now; retry later ", message));
    case Outcome::kRefused:
      break;
  }
  return absl::FailedPreconditionError(
      absl::StrCat("to: messages to ", domain, " cannot be delivered ", message));
}

absl::Status ForSignInClient(const absl::Status& failure) {
  const Outcome outcome = OutcomeOf(failure);
  if (outcome == Outcome::kOk) return absl::OkStatus();
  if (outcome == Outcome::kUnreachable) {
    return absl::UnavailableError("sign-in is unavailable now; retry later");
  }
  return absl::FailedPreconditionError("sign-in is not possible now");
}

absl::Status ForPartnerEdge(const absl::Status& failure, const std::string& to) {
  const Outcome outcome = OutcomeOf(failure);
  if (outcome == Outcome::kOk) return absl::OkStatus();
  if (outcome == Outcome::kNoSuchRecipient) return NoSuchRecipient("message.to", to);
  if (outcome == Outcome::kFull) return CannotTakeMore("message.to", to, "");
  return absl::UnavailableError(
      absl::StrCat("message.to: ", tls::EscapeUntrusted(to), " cannot be reached now"));
}

}  // namespace trustfabric::node
