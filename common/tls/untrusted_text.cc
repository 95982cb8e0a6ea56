// Escaping of peer-supplied text; see untrusted_text.h.
#include "common/tls/untrusted_text.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace trustfabric::tls {
namespace {

constexpr size_t kMaxListed = 4;
constexpr absl::string_view kEllipsis = "...";

void AppendHex(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 0xf]);
}

// Escapes the bytes `escape` selects; when the result would exceed the
// bound, stops where the ellipsis still fits.
template <typename Pred>
std::string Escape(absl::string_view text, size_t max_bytes, Pred escape) {
  max_bytes = std::max<size_t>(max_bytes, 8);
  size_t full = 0;
  for (char c : text) full += escape(static_cast<unsigned char>(c)) ? 4 : 1;
  const size_t room = full <= max_bytes ? max_bytes : max_bytes - kEllipsis.size();
  std::string out;
  out.reserve(std::min(full, max_bytes));
  for (char ch : text) {
    const unsigned char c = static_cast<unsigned char>(ch);
    const bool hex = escape(c);
    if (out.size() + (hex ? 4 : 1) > room) break;
    if (hex) {
      AppendHex(c, &out);
    } else {
      out.push_back(ch);
    }
  }
  if (full > max_bytes) out.append(kEllipsis.data(), kEllipsis.size());
  return out;
}

bool Printable(unsigned char c) { return c >= 0x20 && c <= 0x7e; }

std::string List(const std::vector<std::string>& names) {
  std::vector<std::string> shown;
  for (size_t i = 0; i < names.size() && i < kMaxListed; ++i) {
    shown.push_back(EscapeUntrusted(names[i]));
  }
  std::string out = absl::StrJoin(shown, ", ");
  if (names.size() > kMaxListed) absl::StrAppend(&out, " +", names.size() - kMaxListed, " more");
  return out;
}

}  // namespace

std::string EscapeUntrusted(absl::string_view text, size_t max_bytes) {
  return Escape(text, max_bytes,
                [](unsigned char c) { return !Printable(c) || c == '"' || c == '\\'; });
}

std::string GuardLogText(absl::string_view text, size_t max_bytes) {
  return Escape(text, max_bytes, [](unsigned char c) { return !Printable(c) || c == '"'; });
}

std::string DescribeClaimed(const std::vector<std::string>& uri_names,
                            const std::vector<std::string>& dns_names,
                            absl::string_view common_name) {
  if (!uri_names.empty() && !dns_names.empty()) {
    return absl::StrCat("claimed ", List(uri_names), " (", List(dns_names), "), unverified");
  }
  if (!uri_names.empty()) return absl::StrCat("claimed ", List(uri_names), ", unverified");
  if (!dns_names.empty()) return absl::StrCat("claimed ", List(dns_names), ", unverified");
  if (!common_name.empty()) {
    return absl::StrCat("claimed cn=", EscapeUntrusted(common_name), ", unverified");
  }
  return "unverified peer";
}

}  // namespace trustfabric::tls
