// The authorization policy table; see policy.h.
#include "common/tls/policy.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/tls/untrusted_text.h"

namespace trustfabric::tls {
namespace {

using pki::Role;

std::string RoleList(const std::vector<Role>& roles) {
  std::vector<std::string> names;
  for (Role r : roles) names.emplace_back(pki::RoleName(r));
  return absl::StrJoin(names, ",");
}

}  // namespace

const std::vector<MethodRule>& PolicyTable() {
  static const auto* table = new std::vector<MethodRule>{
      // Control plane: admin API for administrators of the domain.
      {"/trustfabric.v1.ControlPlane/AddRootAuthority", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/RemoveRootAuthority", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/ListRootAuthorities", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/AddTokenIssuer", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/RemoveTokenIssuer", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/ListTokenIssuers", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/PutFederationPeer", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/RemoveFederationPeer", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/ListFederationPeers", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/RevokeCertificate", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/UnrevokeCertificate", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/ListRevocations", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/GetSnapshot", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/GetPropagationStatus", DomainScope::kLocal, {Role::kAdmin}},
      {"/trustfabric.v1.ControlPlane/GetAuditLog", DomainScope::kLocal, {Role::kAdmin}},
      // Trust distribution: every node of the domain.
      {"/trustfabric.v1.TrustDistribution/Watch",
       DomainScope::kLocal,
       {Role::kEdge, Role::kFrontend, Role::kRegistrar, Role::kControl}},
      // Registrar: front-ends register their users; edges look users up.
      {"/trustfabric.v1.Registrar/Register", DomainScope::kLocal, {Role::kFrontend}},
      {"/trustfabric.v1.Registrar/Unregister", DomainScope::kLocal, {Role::kFrontend}},
      {"/trustfabric.v1.Registrar/Lookup", DomainScope::kLocal, {Role::kFrontend, Role::kEdge}},
      // Front-end node call: hand-over of a message for a local user.
      {"/trustfabric.v1.FrontEnd/Deliver", DomainScope::kLocal, {Role::kEdge, Role::kFrontend}},
      // Edge: front-ends relay outwards; partner edges relay inwards.
      {"/trustfabric.v1.Edge/Relay", DomainScope::kLocal, {Role::kFrontend}},
      {"/trustfabric.v1.Edge/Relay", DomainScope::kPartner, {Role::kEdge}},
      // Health and reflection: any node or administrator of the domain.
      {"/grpc.health.v1.Health/Check",
       DomainScope::kLocal,
       {Role::kEdge, Role::kFrontend, Role::kRegistrar, Role::kControl, Role::kAdmin}},
      {"/grpc.health.v1.Health/Watch",
       DomainScope::kLocal,
       {Role::kEdge, Role::kFrontend, Role::kRegistrar, Role::kControl, Role::kAdmin}},
      {"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
       DomainScope::kLocal,
       {Role::kAdmin}},
  };
  return *table;
}

namespace {

// Rules by method, built once: Authorize runs on every call.
const absl::flat_hash_map<absl::string_view, std::vector<const MethodRule*>>& RulesByMethod() {
  static const auto* index = [] {
    auto* m = new absl::flat_hash_map<absl::string_view, std::vector<const MethodRule*>>;
    for (const MethodRule& rule : PolicyTable()) (*m)[rule.method].push_back(&rule);
    return m;
  }();
  return *index;
}

}  // namespace

absl::Status Authorize(absl::string_view method, const PeerIdentity& peer,
                       absl::string_view local_domain) {
  const bool local = peer.spiffe_id.trust_domain == local_domain;
  const DomainScope scope = local ? DomainScope::kLocal : DomainScope::kPartner;
  auto rules = RulesByMethod().find(method);
  const bool known = rules != RulesByMethod().end();
  for (const MethodRule* rule_ptr : known ? rules->second : std::vector<const MethodRule*>()) {
    const MethodRule& rule = *rule_ptr;
    if (rule.scope != scope) continue;
    if (std::find(rule.roles.begin(), rule.roles.end(), peer.spiffe_id.role) != rule.roles.end()) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "policy: role ", pki::RoleName(peer.spiffe_id.role), " of ", peer.spiffe_id.trust_domain,
        " may not call ", EscapeUntrusted(method), " (allowed: ", RoleList(rule.roles), ")"));
  }
  // An unknown method is whatever the caller put in :path.
  if (!known) {
    return absl::PermissionDeniedError(
        absl::StrCat("policy: unknown method ", EscapeUntrusted(method)));
  }
  return absl::PermissionDeniedError(absl::StrCat("policy: ", local ? "local" : "partner",
                                                  " domain ", peer.spiffe_id.trust_domain,
                                                  " may not call ", EscapeUntrusted(method)));
}

}  // namespace trustfabric::tls
