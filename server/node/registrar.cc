// Registrar; see registrar.h.
#include "server/node/registrar.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/tls/rejections.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

// config.addresses[dns_name], or NOT_FOUND naming the missing entry.
absl::StatusOr<std::string> AddressOf(const v1::NodeConfig& config, const std::string& dns_name) {
  auto it = config.addresses().find(dns_name);
  if (it == config.addresses().end()) {
    return absl::NotFoundError(
        absl::StrCat("no address configured for ", dns_name, " (addresses.", dns_name, ")"));
  }
  return it->second;
}

}  // namespace

absl::Status Registrar::Register(const tls::PeerIdentity& caller, absl::string_view user,
                                 absl::string_view requested) {
  const std::string frontend = requested.empty() ? caller.dns_name : std::string(requested);
  if (frontend != caller.dns_name) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("frontend: ", caller.dns_name, " may not register users for ", frontend));
    tls::RecordRejection("internal", caller.Describe(), "/trustfabric.v1.Registrar/Register",
                         denied);
    return denied;
  }
  absl::StatusOr<std::string> address = AddressOf(*config_, frontend);
  if (!address.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("frontend: ", address.status().message()));
  }
  absl::StatusOr<Registration> previous = registry_->Lookup(user);
  absl::Status status = registry_->Register(user, frontend, *address);
  if (status.ok() && previous.ok() && previous->frontend != frontend) {
    spdlog::info("user {} moved from {} to {} (newest sign-in wins)", previous->user,
                 previous->frontend, frontend);
  }
  return status;
}

absl::Status Registrar::Unregister(const tls::PeerIdentity& caller, absl::string_view user) {
  absl::StatusOr<Registration> current = registry_->Lookup(user);
  if (!current.ok()) return current.status();
  if (current->frontend != caller.dns_name) {
    return absl::PermissionDeniedError(absl::StrCat("user ", user, " is served by ",
                                                    current->frontend, ", not ", caller.dns_name));
  }
  return registry_->Unregister(user);
}

absl::StatusOr<Registration> Registrar::Lookup(absl::string_view user) const {
  return registry_->Lookup(user);
}

}  // namespace trustfabric::node
