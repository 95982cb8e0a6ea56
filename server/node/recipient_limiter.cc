// UnknownRecipientLimiter; see recipient_limiter.h.
#include "server/node/recipient_limiter.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace trustfabric::node {
namespace {

UnknownRecipientLimiter::Options Sanitized(UnknownRecipientLimiter::Options o) {
  o.burst = std::max<size_t>(o.burst, 1);
  if (o.refill <= absl::ZeroDuration()) o.refill = absl::Seconds(1);
  o.max_callers = std::max<size_t>(o.max_callers, 1);
  return o;
}

}  // namespace

UnknownRecipientLimiter::UnknownRecipientLimiter(Options options)
    : options_(Sanitized(std::move(options))) {}

absl::Time UnknownRecipientLimiter::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

absl::Status UnknownRecipientLimiter::Check(absl::string_view caller) {
  const absl::Time now = Now();
  absl::MutexLock lock(&mu_);
  auto it = by_caller_.find(caller);
  if (it == by_caller_.end()) return absl::OkStatus();
  const absl::Time full_at = it->second->full_at;
  if (full_at <= now) {
    order_.erase(it->second);
    by_caller_.erase(it);
    return absl::OkStatus();
  }
  const absl::Duration wait =
      (full_at - now) - static_cast<int64_t>(options_.burst - 1) * options_.refill;
  if (wait <= absl::ZeroDuration()) return absl::OkStatus();
  const int64_t seconds =
      std::max<int64_t>(1, absl::ToInt64Seconds(absl::Ceil(wait, absl::Seconds(1))));
  return absl::ResourceExhaustedError(
      absl::StrCat("too many unknown recipients; retry after ", seconds, "s"));
}

void UnknownRecipientLimiter::RecordUnknown(absl::string_view caller) {
  const absl::Time now = Now();
  absl::MutexLock lock(&mu_);
  auto it = by_caller_.find(caller);
  if (it == by_caller_.end()) {
    if (by_caller_.size() >= options_.max_callers) {
      by_caller_.erase(order_.front().caller);
      order_.pop_front();
    }
    order_.push_back(Bucket{std::string(caller), now});
    it = by_caller_.emplace(order_.back().caller, std::prev(order_.end())).first;
  } else {
    order_.splice(order_.end(), order_, it->second);
  }
  Bucket& b = *it->second;
  // Concurrent Sends may each pass Check before any is charged; the debt is
  // bounded by the caller's concurrent calls and repaid by waiting longer.
  b.full_at = std::max(b.full_at, now) + options_.refill;
}

size_t UnknownRecipientLimiter::tracked() const {
  absl::MutexLock lock(&mu_);
  return by_caller_.size();
}

}  // namespace trustfabric::node
