// One place where every refused peer or call is recorded: a single log line
// with listener, peer, method, rule and reason; a counter per (listener,
// rule); and the most recent rejections in memory (for status pages and
// tests).
//
//   tls::RecordRejection("federation", peer->Describe(), "/trustfabric.v1.Edge/Relay",
//                        status);  // status: "revoked: certificate ... is revoked"
#ifndef TRUSTFABRIC_COMMON_TLS_REJECTIONS_H_
#define TRUSTFABRIC_COMMON_TLS_REJECTIONS_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace trustfabric::tls {

struct Rejection {
  std::string listener;  // "internal", "federation", "client", "outbound"
  // A verified peer: its SPIFFE ID and DNS name. A peer whose certificate did
  // not verify is never named as such: "claimed <SANs>, unverified" (see
  // DescribeClaimed in untrusted_text.h).
  std::string peer;
  std::string method;    // "/pkg.Service/Method", or "handshake"
  std::string rule;      // stable token, e.g. "revoked", "policy"
  std::string reason;
  absl::StatusCode code = absl::StatusCode::kUnknown;
  absl::Time time;
};

// Splits a verifier status "<rule>: <reason>" into rule and reason.
std::pair<std::string, std::string> SplitRule(const absl::Status& status);

// Logs (warn level) and records `r`. Every field is passed through
// GuardLogText (control characters and quotes as \xNN, bounded), so a
// peer-supplied value cannot forge or split the log line.
void RecordRejection(Rejection r);
// The same from a refusal status "<rule>: <reason>".
void RecordRejection(absl::string_view listener, std::string peer, absl::string_view method,
                     const absl::Status& status);

// The most recent rejections (at most 256), oldest first.
std::vector<Rejection> RecentRejections();
// Counts by "listener/rule" since process start.
std::map<std::string, uint64_t> RejectionCounts();

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_REJECTIONS_H_
