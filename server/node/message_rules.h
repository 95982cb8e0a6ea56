// Validation of user messages as they enter or cross a node.
//
//   TF_RETURN_IF_ERROR(node::ValidateMessage(request.message()));
#ifndef TRUSTFABRIC_SERVER_NODE_MESSAGE_RULES_H_
#define TRUSTFABRIC_SERVER_NODE_MESSAGE_RULES_H_

#include <string>

#include "absl/status/status.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

inline constexpr size_t kMaxBodyBytes = 64 * 1024;

// INVALID_ARGUMENT naming the field: message.id (1..64 of [a-z0-9-]),
// message.from / message.to (user@domain), message.body (at most 64 KiB of
// valid UTF-8).
absl::Status ValidateMessage(const v1::Message& message);

// The trust domain of "user@domain" (REQUIRES: a validated address).
std::string DomainOf(const std::string& user);

// A new random message id (32 hex characters).
std::string NewMessageId();

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_MESSAGE_RULES_H_
