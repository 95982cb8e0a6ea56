#include "tests/testing/thread_state.h"

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"

namespace trustfabric::testing {
namespace {

TEST(ThreadStateTest, AThreadWaitingOnANotificationIsBlocked) {
  absl::Notification release;
  std::atomic<pid_t> waiter{0};
  std::thread t([&] {
    waiter = CurrentThreadId();
    release.WaitForNotification();
  });
  EXPECT_TRUE(Eventually([&] { return IsBlocked(waiter); }));
  release.Notify();
  t.join();
  // The thread is gone.
  EXPECT_FALSE(IsBlocked(waiter));
}

TEST(ThreadStateTest, TheCallingThreadIsNotBlocked) {
  EXPECT_FALSE(IsBlocked(CurrentThreadId()));
  EXPECT_FALSE(IsBlocked(0));
}

}  // namespace
}  // namespace trustfabric::testing
