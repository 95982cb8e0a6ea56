// The injectable time source: code that reads the time takes a Clock, so a
// test can move time (an expiry, a staleness limit, a keepalive) without
// sleeping, and production passes RealClock().
//
//   control::NodeRegistry registry(RealClock());
//
//   absl::Time now = absl::FromUnixSeconds(1700000000);
//   tls::TrustSource source(&holder, "contoso.test", bootstrap, [&now] { return now; });
//   now += absl::Hours(25);  // the next handshake sees a day later
//
// Like common/status, this is a foundation every layer uses, so its names
// live in namespace trustfabric itself: `Clock` reads the same in tls,
// control and node code.
#ifndef TRUSTFABRIC_COMMON_TIME_CLOCK_H_
#define TRUSTFABRIC_COMMON_TIME_CLOCK_H_

#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace trustfabric {

// Returns the current time. Called from any thread that reads the time, so
// a test clock must be safe to call concurrently with the code under test.
using Clock = std::function<absl::Time()>;

// absl::Now().
inline Clock RealClock() {
  return [] { return absl::Now(); };
}

}  // namespace trustfabric

#endif  // TRUSTFABRIC_COMMON_TIME_CLOCK_H_
