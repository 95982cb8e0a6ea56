// MovableClock: a clock tests move forward, for code that takes a Clock
// (common/time/clock.h): certificate and token expiry, staleness, rate
// limits.
//
//   testing::MovableClock clock;               // real time + an offset
//   options.clock = clock.AsClock();
//   clock.Advance(absl::Hours(2));             // past the token's exp
//
//   testing::MovableClock fixed(absl::FromUnixSeconds(1700000000));  // fixed
//
// Without a start it reads real time plus the offset, so certificates and
// tokens issued against real time start out valid together with it.
#ifndef TRUSTFABRIC_TESTS_TESTING_MOVABLE_CLOCK_H_
#define TRUSTFABRIC_TESTS_TESTING_MOVABLE_CLOCK_H_

#include <optional>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace trustfabric::testing {

// Thread-safe.
class MovableClock {
 public:
  MovableClock() = default;
  explicit MovableClock(absl::Time start) : start_(start) {}
  MovableClock(const MovableClock&) = delete;
  MovableClock& operator=(const MovableClock&) = delete;

  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return (start_.has_value() ? *start_ : absl::Now()) + offset_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    offset_ += d;
  }
  // A Clock reading this one. REQUIRES: this outlives the Clock's users.
  Clock AsClock() const {
    return [this] { return Now(); };
  }

 private:
  const std::optional<absl::Time> start_;
  mutable absl::Mutex mu_;
  absl::Duration offset_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_MOVABLE_CLOCK_H_
