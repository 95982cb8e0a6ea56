// What callers outside a node's trust boundary may learn from a failure.
//
// A client of the front-end's client listener, and a partner edge on the
// federation listener, see a status with the class of the failure and the
// recipient they named, never a host name, an address or a relay path of
// either domain: those stay in the node's log, next to the message id the
// client is told. Every value a client or a peer chose goes through tls::EscapeUntrusted
// before it reaches a log line or a reason.
//
//   absl::StatusOr<std::string> routed = Route(message);
//   if (!routed.ok()) {
//     spdlog::info("send failed message={} reason=\"{}\"", message.id(),
//                  tls::EscapeUntrusted(routed.status().message()));
//     return ToGrpcStatus(node::ForSendClient(routed.status(), message.to(), message.id()));
//   }
#ifndef TRUSTFABRIC_SERVER_NODE_DISCLOSURE_H_
#define TRUSTFABRIC_SERVER_NODE_DISCLOSURE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace trustfabric::node {

// Longest failure reason (which may quote a chain of peer-supplied values)
// kept in a log line.
inline constexpr size_t kMaxReasonBytes = 1024;


// What the client of FrontEnd.Send learns when routing to `to` failed
// (`to` is a validated address; `message_id` the id the front-end logged):
//   NOT_FOUND           "to: no such recipient <to>"
//   RESOURCE_EXHAUSTED  "to: <to> cannot take more messages now; retry later (message <id>)"
//   UNAVAILABLE         "to: <domain> cannot be reached now; retry later (message <id>)"
//                       (also for DEADLINE_EXCEEDED)
//   FAILED_PRECONDITION "to: messages to <domain> cannot be delivered (message <id>)"
//                       (every other code: refusals and configuration of
//                       either domain are the operators' business)
absl::Status ForSendClient(const absl::Status& failure, const std::string& to,
                           const std::string& message_id);

// What the client of FrontEnd.SignIn learns when registering failed:
// UNAVAILABLE "sign-in is unavailable now; retry later" (also for
// DEADLINE_EXCEEDED), otherwise FAILED_PRECONDITION "sign-in is not
// possible now".
absl::Status ForSignInClient(const absl::Status& failure);

// What a partner edge learns when an inbound relay to `to` failed inside
// this domain: NOT_FOUND "message.to: no such recipient <to>",
// RESOURCE_EXHAUSTED "message.to: <to> cannot take more messages now",
// otherwise UNAVAILABLE "message.to: <to> cannot be reached now".
absl::Status ForPartnerEdge(const absl::Status& failure, const std::string& to);

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_DISCLOSURE_H_
