// SPIFFE IDs of trustfabric identities: spiffe://<trust-domain>/<role>/<name>.
//
//   TF_ASSIGN_OR_RETURN(pki::SpiffeId id,
//                       pki::ParseSpiffeId("spiffe://contoso.test/frontend/fe1"));
//   id.trust_domain == "contoso.test"; id.role == pki::Role::kFrontend;
#ifndef TRUSTFABRIC_COMMON_PKI_SPIFFE_H_
#define TRUSTFABRIC_COMMON_PKI_SPIFFE_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::pki {

enum class Role { kEdge, kFrontend, kRegistrar, kControl, kAdmin };

// "edge", "frontend", "registrar", "control", "admin".
absl::string_view RoleName(Role role);
std::optional<Role> RoleFromName(absl::string_view name);

struct SpiffeId {
  std::string trust_domain;  // e.g. "contoso.test"
  Role role = Role::kEdge;
  std::string name;          // e.g. "fe1"

  std::string ToString() const;  // "spiffe://contoso.test/frontend/fe1"
  friend bool operator==(const SpiffeId& a, const SpiffeId& b) {
    return a.trust_domain == b.trust_domain && a.role == b.role && a.name == b.name;
  }
};

// Strict parsing. Requirements: scheme exactly "spiffe://" (lower case); no
// userinfo, port, query or fragment; trust domain a valid lower-case DNS name
// (see IsValidDnsName); exactly two path segments, a known role and a name of
// [a-z0-9._-]{1,63}; no percent-encoding, no empty or dot segments; at most
// 2048 bytes. INVALID_ARGUMENT with the reason otherwise.
absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri);

// A lower-case DNS name: labels of [a-z0-9-]{1,63}, not starting or ending
// with '-', at least two labels, at most 253 characters, no trailing dot.
bool IsValidDnsName(absl::string_view name);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_SPIFFE_H_
