// Registry; see registry.h.
#include "server/node/registry.h"

#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/spiffe.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"

namespace trustfabric::node {
namespace {

constexpr size_t kMaxStateBytes = 64 << 20;

bool IsLocalPartChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '+' ||
         c == '-';
}

}  // namespace

absl::Status ParseUser(absl::string_view user, absl::string_view field, std::string* local,
                       std::string* domain) {
  size_t at = user.find('@');
  if (at == absl::string_view::npos || at == 0 || at > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected <name>@<trust-domain> in lower case"));
  }
  for (char c : user.substr(0, at)) {
    if (!IsLocalPartChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": user name may contain only a-z 0-9 . _ + -"));
    }
  }
  if (!pki::IsValidDnsName(user.substr(at + 1))) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": domain is not a valid dns name"));
  }
  if (local != nullptr) *local = std::string(user.substr(0, at));
  if (domain != nullptr) *domain = std::string(user.substr(at + 1));
  return absl::OkStatus();
}

Registry::Registry(std::string trust_domain, std::string state_dir, size_t max_users)
    : trust_domain_(std::move(trust_domain)),
      state_dir_(std::move(state_dir)),
      max_users_(max_users) {}

absl::Status Registry::CheckUser(absl::string_view user) const {
  std::string domain;
  TF_RETURN_IF_ERROR(ParseUser(user, "user", nullptr, &domain));
  if (domain != trust_domain_) {
    return absl::InvalidArgumentError(
        absl::StrCat("user: ", user, " is not in trust domain ", trust_domain_));
  }
  return absl::OkStatus();
}

absl::Status Registry::Load() {
  if (state_dir_.empty()) return absl::OkStatus();
  const std::string path = state_dir_ + "/registrations.json";
  absl::StatusOr<std::string> text = ReadFileLimited(path, kMaxStateBytes);
  if (absl::IsNotFound(text.status())) return absl::OkStatus();
  if (!text.ok()) return text.status();
  nlohmann::json doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("users") ||
      !doc["users"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a registrations file"));
  }
  absl::flat_hash_map<std::string, Registration> loaded;
  for (const auto& u : doc["users"]) {
    if (!u.is_object() || !u.contains("user") || !u["user"].is_string() ||
        !u.contains("frontend") || !u["frontend"].is_string() || !u.contains("frontend_address") ||
        !u["frontend_address"].is_string() || !u.contains("registered_at") ||
        !u["registered_at"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed registration entry"));
    }
    Registration r{u["user"].get<std::string>(), u["frontend"].get<std::string>(),
                   u["frontend_address"].get<std::string>(),
                   absl::FromUnixSeconds(u["registered_at"].get<int64_t>())};
    TF_RETURN_IF_ERROR(Annotate(CheckUser(r.user), path));
    loaded[r.user] = std::move(r);
  }
  absl::MutexLock lock(&mu_);
  users_ = std::move(loaded);
  return absl::OkStatus();
}

absl::Status Registry::PersistLocked() const {
  if (state_dir_.empty()) return absl::OkStatus();
  nlohmann::json users = nlohmann::json::array();
  for (const auto& [name, r] : users_) {
    users.push_back({{"user", r.user},
                     {"frontend", r.frontend},
                     {"frontend_address", r.frontend_address},
                     {"registered_at", absl::ToUnixSeconds(r.registered_at)}});
  }
  nlohmann::json doc = {{"users", users}};
  return WriteFileAtomically(state_dir_ + "/registrations.json", doc.dump(), 0600);
}

absl::Status Registry::Register(absl::string_view user, absl::string_view frontend,
                                absl::string_view frontend_address) {
  TF_RETURN_IF_ERROR(CheckUser(user));
  if (!pki::IsValidDnsName(frontend)) {
    return absl::InvalidArgumentError("frontend: not a valid dns name");
  }
  if (frontend_address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("frontend: no address is configured for ",
                                                      frontend, " (registrar addresses map)"));
  }
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user);
  if (it == users_.end() && users_.size() >= max_users_) {
    return absl::ResourceExhaustedError(absl::StrCat("registrar is full (", max_users_, " users)"));
  }
  Registration previous;
  const bool existed = it != users_.end();
  if (existed) previous = it->second;
  users_[std::string(user)] = Registration{std::string(user), std::string(frontend),
                                           std::string(frontend_address), absl::Now()};
  absl::Status persisted = PersistLocked();
  if (!persisted.ok()) {  // keep memory and disk in step
    if (existed) {
      users_[std::string(user)] = previous;
    } else {
      users_.erase(std::string(user));
    }
  }
  return persisted;
}

absl::Status Registry::Unregister(absl::string_view user) {
  TF_RETURN_IF_ERROR(CheckUser(user));
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user);
  if (it == users_.end()) {
    return absl::NotFoundError(absl::StrCat("user ", user, " is not registered"));
  }
  Registration previous = it->second;
  users_.erase(it);
  absl::Status persisted = PersistLocked();
  if (!persisted.ok()) users_[previous.user] = previous;
  return persisted;
}

absl::StatusOr<Registration> Registry::Lookup(absl::string_view user) const {
  TF_RETURN_IF_ERROR(CheckUser(user));
  absl::MutexLock lock(&mu_);
  auto it = users_.find(user);
  if (it == users_.end()) {
    return absl::NotFoundError(absl::StrCat("user ", user, " is not registered"));
  }
  return it->second;
}

size_t Registry::size() const {
  absl::MutexLock lock(&mu_);
  return users_.size();
}

}  // namespace trustfabric::node
