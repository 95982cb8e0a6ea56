// Whether another thread of this process is blocked, for tests of code that
// must wake a waiter (a condition wait, a blocking read): the test polls
// until the waiting thread is parked, then acts, instead of sleeping and
// hoping the waiter got there first.
//
//   std::atomic<pid_t> waiter{0};
//   std::thread t([&] {
//     waiter = testing::CurrentThreadId();
//     result = registry.WaitApplied(2, nodes, 1, absl::Now() + absl::Seconds(30));
//   });
//   EXPECT_TRUE(testing::Eventually([&] { return testing::IsBlocked(waiter); }));
//   registry.Acked(stream, 2);  // wakes a thread that is already waiting
//   t.join();
//
// Linux only (reads /proc/self/task/<tid>/stat).
#ifndef TRUSTFABRIC_TESTS_TESTING_THREAD_STATE_H_
#define TRUSTFABRIC_TESTS_TESTING_THREAD_STATE_H_

#include <sys/types.h>

namespace trustfabric::testing {

// The calling thread's kernel thread id.
pid_t CurrentThreadId();

// Whether thread `tid` of this process is asleep in the kernel (state S or
// D). A thread that is blocked in a wait is; so is one blocked on anything
// else, so call this when the thread's next blocking step is the wait of
// interest. False for 0 and for a thread that does not exist (any more).
bool IsBlocked(pid_t tid);

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_THREAD_STATE_H_
