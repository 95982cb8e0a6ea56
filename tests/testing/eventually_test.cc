#include "tests/testing/eventually.h"

#include <atomic>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::testing {
namespace {

TEST(EventuallyTest, ConditionAlreadyTrueSucceedsOnTheFirstPoll) {
  int polls = 0;
  EXPECT_TRUE(Eventually([&] {
    ++polls;
    return true;
  }));
  EXPECT_EQ(polls, 1);
}

TEST(EventuallyTest, WaitsForAnotherThread) {
  std::atomic<bool> done{false};
  absl::Notification polled;
  std::thread writer([&] {
    polled.WaitForNotification();
    done = true;
  });
  EXPECT_TRUE(Eventually([&] {
    if (!polled.HasBeenNotified()) polled.Notify();
    return done.load();
  }));
  writer.join();
}

TEST(EventuallyTest, FailureNamesTheTimeoutAndTheLastReason) {
  int polls = 0;
  ::testing::AssertionResult r = Eventually(
      [&]() -> ::testing::AssertionResult {
        ++polls;
        return ::testing::AssertionFailure() << "applied revision " << polls;
      },
      absl::Milliseconds(30));
  ASSERT_FALSE(r);
  EXPECT_THAT(r.message(), HasSubstr("condition still false after 30ms"));
  // The reason reported is the one from the final poll.
  EXPECT_THAT(r.message(), HasSubstr("applied revision " + std::to_string(polls)));
  EXPECT_GE(polls, 2);
}

TEST(EventuallyTest, BoolConditionFailureNamesTheTimeout) {
  ::testing::AssertionResult r = Eventually([] { return false; }, absl::ZeroDuration());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.message(), HasSubstr("condition still false after 0 (1 poll)"));
}

}  // namespace
}  // namespace trustfabric::testing
