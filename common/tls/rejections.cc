// Rejection log; see rejections.h.
#include "common/tls/rejections.h"

#include <deque>
#include <tuple>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/status/status.h"
#include "common/tls/untrusted_text.h"
#include "spdlog/spdlog.h"

namespace trustfabric::tls {
namespace {

constexpr size_t kRecent = 256;
// Bounds of the recorded fields (peer descriptions list up to 8 names).
constexpr size_t kMaxPeerBytes = 2048;
constexpr size_t kMaxFieldBytes = 256;
constexpr size_t kMaxReasonBytes = 1024;

struct Registry {
  absl::Mutex mu;
  std::deque<Rejection> recent ABSL_GUARDED_BY(mu);
  std::map<std::string, uint64_t> counts ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static auto* registry = new Registry;
  return *registry;
}

}  // namespace

std::pair<std::string, std::string> SplitRule(const absl::Status& status) {
  absl::string_view msg = status.message();
  size_t colon = msg.find(": ");
  if (colon == absl::string_view::npos ||
      msg.substr(0, colon).find(' ') != absl::string_view::npos) {
    return {CodeName(status.code()), std::string(msg)};
  }
  return {std::string(msg.substr(0, colon)), std::string(msg.substr(colon + 2))};
}

void RecordRejection(Rejection r) {
  if (r.time == absl::Time()) r.time = absl::Now();
  // Peer-supplied text reaches every field (SANs, :path, names in reasons):
  // no control character, no quote and no unbounded value gets through,
  // whether or not the caller escaped it already.
  r.listener = GuardLogText(r.listener, kMaxFieldBytes);
  r.peer = GuardLogText(r.peer, kMaxPeerBytes);
  r.method = GuardLogText(r.method, kMaxFieldBytes);
  r.rule = GuardLogText(r.rule, kMaxFieldBytes);
  r.reason = GuardLogText(r.reason, kMaxReasonBytes);
  spdlog::warn("rejected listener={} peer=\"{}\" method={} rule={} code={} reason=\"{}\"",
               r.listener, r.peer, r.method, r.rule, CodeName(r.code), r.reason);
  Registry& reg = GetRegistry();
  absl::MutexLock lock(&reg.mu);
  ++reg.counts[absl::StrCat(r.listener, "/", r.rule)];
  reg.recent.push_back(std::move(r));
  if (reg.recent.size() > kRecent) reg.recent.pop_front();
}

void RecordRejection(absl::string_view listener, std::string peer, absl::string_view method,
                     const absl::Status& status) {
  Rejection r;
  r.listener = std::string(listener);
  r.peer = std::move(peer);
  r.method = std::string(method);
  std::tie(r.rule, r.reason) = SplitRule(status);
  r.code = status.code();
  RecordRejection(std::move(r));
}

std::vector<Rejection> RecentRejections() {
  Registry& reg = GetRegistry();
  absl::MutexLock lock(&reg.mu);
  return {reg.recent.begin(), reg.recent.end()};
}

std::map<std::string, uint64_t> RejectionCounts() {
  Registry& reg = GetRegistry();
  absl::MutexLock lock(&reg.mu);
  return reg.counts;
}

}  // namespace trustfabric::tls
