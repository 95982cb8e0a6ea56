// What leaves a node on failure; see disclosure.h.
#include "server/node/disclosure.h"

#include "absl/strings/str_cat.h"
#include "common/tls/untrusted_text.h"
#include "server/node/message_rules.h"

namespace trustfabric::node {

absl::Status ForSendClient(const absl::Status& failure, const std::string& to,
                           const std::string& message_id) {
  const std::string safe_to = tls::EscapeUntrusted(to);
  const std::string domain = tls::EscapeUntrusted(DomainOf(to));
  switch (failure.code()) {
    case absl::StatusCode::kOk:
      return absl::OkStatus();
    case absl::StatusCode::kNotFound:
      return absl::NotFoundError(absl::StrCat("to: no such recipient ", safe_to));
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(
          absl::StrCat("to: ", safe_to, " cannot take more messages now; retry later (message ",
                       message_id, ")"));
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::UnavailableError(absl::StrCat(
          "to: ", domain, " cannot be reached now; retry later (message ", message_id, ")"));
    default:
      return absl::FailedPreconditionError(absl::StrCat(
          "to: messages to ", domain, " cannot be delivered (message ", message_id, ")"));
  }
}

absl::Status ForSignInClient(const absl::Status& failure) {
  switch (failure.code()) {
    case absl::StatusCode::kOk:
      return absl::OkStatus();
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return absl::UnavailableError("sign-in is unavailable now; retry later");
    default:
      return absl::FailedPreconditionError("sign-in is not possible now");
  }
}

absl::Status ForPartnerEdge(const absl::Status& failure, const std::string& to) {
  const std::string safe_to = tls::EscapeUntrusted(to);
  switch (failure.code()) {
    case absl::StatusCode::kOk:
      return absl::OkStatus();
    case absl::StatusCode::kNotFound:
      return absl::NotFoundError(absl::StrCat("message.to: no such recipient ", safe_to));
    case absl::StatusCode::kResourceExhausted:
      return absl::ResourceExhaustedError(
          absl::StrCat("message.to: ", safe_to, " cannot take more messages now"));
    default:
      return absl::UnavailableError(
          absl::StrCat("message.to: ", safe_to, " cannot be reached now"));
  }
}

}  // namespace trustfabric::node
