// Peer-supplied text made safe for log lines and refusal reasons
// (docs/design.md §4): every byte outside printable ASCII, and the quote and
// backslash characters, become "\xNN"; the result is cut at a byte bound with
// an ellipsis. One helper for SANs, subjects, common names, method names
// taken from ":path", user names and whatever else a peer chose.
//
//   spdlog::warn("refused peer=\"{}\"", tls::EscapeUntrusted(san));
//   // "edge1.fabrikam.test\x0a rule=ok" instead of a forged second line
//
// A refused peer is never named as if its certificate were verified:
// DescribeClaimed says what it claimed and that nothing vouches for it.
//
//   tls::DescribeClaimed({"spiffe://fabrikam.test/edge/edge1"}, {"edge1.fabrikam.test"}, "")
//   // "claimed spiffe://fabrikam.test/edge/edge1 (edge1.fabrikam.test), unverified"
#ifndef TRUSTFABRIC_COMMON_TLS_UNTRUSTED_TEXT_H_
#define TRUSTFABRIC_COMMON_TLS_UNTRUSTED_TEXT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace trustfabric::tls {

// Default bound of one escaped value, ellipsis included.
inline constexpr size_t kMaxUntrustedBytes = 256;

// `text` with bytes outside 0x20..0x7e, '"' and '\' written as "\xNN", at
// most `max_bytes` long: when cut, the result ends in "..." (an escape is
// never split). `max_bytes` below 8 is treated as 8.
std::string EscapeUntrusted(absl::string_view text, size_t max_bytes = kMaxUntrustedBytes);

// For a log line or record built from text that may not have gone through
// EscapeUntrusted: control and non-ASCII bytes and '"' become "\xNN" (a
// backslash is kept, so text already escaped is unchanged), cut at
// `max_bytes` with "...".
std::string GuardLogText(absl::string_view text, size_t max_bytes);

// How to name a peer whose certificate did not verify: "claimed <first URI
// SAN> (<DNS SANs>), unverified", or "claimed cn=<CN>, unverified" when it
// has no SANs, or "unverified peer" when it presented nothing. Every value
// is escaped; at most 4 names are listed ("+N more" after them).
std::string DescribeClaimed(const std::vector<std::string>& uri_names,
                            const std::vector<std::string>& dns_names,
                            absl::string_view common_name);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_UNTRUSTED_TEXT_H_
