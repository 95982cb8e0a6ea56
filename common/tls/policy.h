// The static authorization policy: which peers may call which RPC method
// (docs/design.md §4 step 4). Unknown methods are denied.
//
//   absl::Status s = tls::Authorize("/trustfabric.v1.Edge/Relay", peer, local_domain,
//                                   tls::Listener::kFederation);
//   // PERMISSION_DENIED "policy: role frontend may not call ..." when refused.
#ifndef TRUSTFABRIC_COMMON_TLS_POLICY_H_
#define TRUSTFABRIC_COMMON_TLS_POLICY_H_

#include <initializer_list>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/pki/spiffe.h"
#include "common/tls/peer_verifier.h"

namespace trustfabric::tls {

// Which domains a rule admits.
enum class DomainScope {
  // Peers of the listener's own trust domain.
  kLocal,
  // Peers of a federation partner domain (only reachable on the federation
  // listener, whose verifier already enforced the peer rules).
  kPartner,
};

struct MethodRule {
  absl::string_view method;  // "/package.Service/Method"
  DomainScope scope;
  std::vector<pki::Role> roles;
};

// The project's policy table.
const std::vector<MethodRule>& PolicyTable();

// OK when a rule of PolicyTable() admits `peer` for `method`; otherwise
// PERMISSION_DENIED "policy: <reason>" (unknown method, wrong role, wrong
// domain).
absl::Status Authorize(absl::string_view method, const PeerIdentity& peer,
                       absl::string_view local_domain);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_POLICY_H_
