// SPIFFE ID parsing and DNS name checks; see spiffe.h.
#include "common/pki/spiffe.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/util/enum_names.h"

namespace trustfabric::pki {
namespace {

constexpr absl::string_view kScheme = "spiffe://";
constexpr size_t kMaxSpiffeIdBytes = 2048;
constexpr size_t kMaxNameBytes = 63;

absl::Status Invalid(absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("spiffe id: ", reason));
}

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

bool IsLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// Echoes short printable input back in a message, so that control bytes or
// megabytes of attacker text never reach a log line.
std::string Quote(absl::string_view s) {
  if (s.size() > 64) return "(too long to show)";
  for (char c : s) {
    if (c < 0x20 || c > 0x7e) return "(unprintable)";
  }
  return absl::StrCat("\"", s, "\"");
}

}  // namespace

constexpr util::EnumName<Role> kRoleNames[] = {{Role::kEdge, "edge"},
                                               {Role::kFrontend, "frontend"},
                                               {Role::kRegistrar, "registrar"},
                                               {Role::kControl, "control"},
                                               {Role::kAdmin, "admin"}};

absl::string_view RoleName(Role role) { return util::NameOf(kRoleNames, role, "unknown"); }

std::optional<Role> RoleFromName(absl::string_view name) { return util::ValueOf(kRoleNames, name); }

std::string SpiffeId::ToString() const {
  return absl::StrCat(kScheme, trust_domain, "/", RoleName(role), "/", name);
}

bool IsValidDnsName(absl::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  int labels = 0;
  for (absl::string_view label : absl::StrSplit(name, '.')) {
    if (label.empty() || label.size() > 63) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!IsLabelChar(c)) return false;
    }
    ++labels;
  }
  return labels >= 2;
}

absl::StatusOr<SpiffeId> ParseSpiffeId(absl::string_view uri) {
  if (uri.empty()) return Invalid("empty");
  if (uri.size() > kMaxSpiffeIdBytes) {
    return Invalid(absl::StrCat("longer than ", kMaxSpiffeIdBytes, " bytes"));
  }
  if (!absl::StartsWith(uri, kScheme)) return Invalid("scheme must be \"spiffe://\"");
  // Checked on the whole URI first so that each is reported by name rather
  // than as an invalid character of whichever component it landed in.
  if (uri.find('%') != absl::string_view::npos) {
    return Invalid("percent-encoding is not allowed");
  }
  if (uri.find('?') != absl::string_view::npos) return Invalid("query is not allowed");
  if (uri.find('#') != absl::string_view::npos) return Invalid("fragment is not allowed");

  absl::string_view rest = uri.substr(kScheme.size());
  const size_t slash = rest.find('/');
  absl::string_view authority = rest.substr(0, slash);
  if (authority.find('@') != absl::string_view::npos) {
    return Invalid("userinfo is not allowed");
  }
  if (authority.find(':') != absl::string_view::npos) return Invalid("port is not allowed");
  if (authority.empty()) return Invalid("missing trust domain");
  if (!IsValidDnsName(authority)) {
    return Invalid(absl::StrCat("trust domain ", Quote(authority),
                                " is not a valid lower-case dns name"));
  }
  if (slash == absl::string_view::npos) return Invalid("missing path /<role>/<name>");

  std::vector<absl::string_view> segments = absl::StrSplit(rest.substr(slash + 1), '/');
  for (absl::string_view s : segments) {
    if (s.empty()) return Invalid("empty path segment");
    if (s == "." || s == "..") return Invalid("dot path segment");
  }
  if (segments.size() != 2) {
    return Invalid(absl::StrCat("path must be /<role>/<name>, got ", segments.size(),
                                " segments"));
  }
  std::optional<Role> role = RoleFromName(segments[0]);
  if (!role.has_value()) {
    return Invalid(absl::StrCat("unknown role ", Quote(segments[0])));
  }
  absl::string_view name = segments[1];
  if (name.size() > kMaxNameBytes) {
    return Invalid(absl::StrCat("name longer than ", kMaxNameBytes, " bytes"));
  }
  for (char c : name) {
    if (!IsNameChar(c)) return Invalid("name must match [a-z0-9._-]");
  }
  SpiffeId id;
  id.trust_domain = std::string(authority);
  id.role = *role;
  id.name = std::string(name);
  return id;
}

}  // namespace trustfabric::pki
