// Polling with a bounded deadline, for tests that wait on something another
// thread or process does (a stream that attaches, a node that applies a
// revision) and have no event to wait on. Tests never sleep to order events;
// they poll a condition that says the event happened.
//
//   ASSERT_TRUE(testing::Eventually([&] { return hub.watcher_count() == 2; }));
//
//   // A condition that says why it is not yet true; the last reason is
//   // in the failure message.
//   EXPECT_TRUE(testing::Eventually([&]() -> ::testing::AssertionResult {
//     if (node.applied() == 7) return ::testing::AssertionSuccess();
//     return ::testing::AssertionFailure() << "applied " << node.applied();
//   }));
//
// The deadline (10 s unless given) only bounds a failing test; a passing test
// returns as soon as the condition holds, so no test depends on how fast the
// machine is.
#ifndef TRUSTFABRIC_TESTS_TESTING_EVENTUALLY_H_
#define TRUSTFABRIC_TESTS_TESTING_EVENTUALLY_H_

#include <chrono>
#include <thread>
#include <type_traits>

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace trustfabric::testing {

// How long Eventually polls by default before giving up.
inline constexpr absl::Duration kEventuallyTimeout = absl::Seconds(10);
// The pause between two polls.
inline constexpr absl::Duration kEventuallyInterval = absl::Milliseconds(5);

// Calls `condition` (returning bool or ::testing::AssertionResult) until it
// holds or `timeout` has passed (measured on a monotonic clock). The
// result is a success, or a failure naming the timeout, the number of polls
// and, for an AssertionResult condition, the message of its last failure.
// The condition runs on the calling thread; the last call starts after the
// deadline, so a condition that became true while the caller was descheduled
// is not reported as a failure.
template <typename Condition>
::testing::AssertionResult Eventually(Condition&& condition,
                                      absl::Duration timeout = kEventuallyTimeout) {
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + absl::ToChronoNanoseconds(timeout);
  for (int polls = 1;; ++polls) {
    const bool last = Clock::now() >= deadline;
    ::testing::AssertionResult result(condition());
    if (result) return ::testing::AssertionSuccess();
    if (last) {
      ::testing::AssertionResult failure = ::testing::AssertionFailure();
      failure << "condition still false after " << absl::FormatDuration(timeout) << " (" << polls
              << (polls == 1 ? " poll)" : " polls)");
      if constexpr (std::is_same_v<std::decay_t<decltype(condition())>,
                                   ::testing::AssertionResult>) {
        if (result.message()[0] != '\0') failure << ": " << result.message();
      }
      return failure;
    }
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(kEventuallyInterval));
  }
}

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_EVENTUALLY_H_
