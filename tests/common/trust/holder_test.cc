#include "common/trust/holder.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"

namespace trustfabric::trust {
namespace {

std::shared_ptr<const TrustSnapshot> Revision(uint64_t revision) {
  return MustCreate(EmptySnapshot(revision));
}

TEST(SnapshotHolderTest, EmptyUntilTheFirstSwap) {
  SnapshotHolder holder;
  EXPECT_EQ(holder.Get(), nullptr);
  std::shared_ptr<const TrustSnapshot> first = Revision(1);
  EXPECT_EQ(StatusText(holder.Swap(first)), "OK");
  EXPECT_EQ(holder.Get(), first);
}

TEST(SnapshotHolderTest, RejectsOlderEqualZeroAndNullAndKeepsTheCurrent) {
  SnapshotHolder holder;
  EXPECT_EQ(StatusText(holder.Swap(Revision(0))),
            "FAILED_PRECONDITION: snapshot revision 0 is not newer than the current revision 0");
  EXPECT_EQ(StatusText(holder.Swap(nullptr)), "INVALID_ARGUMENT: snapshot: null");
  std::shared_ptr<const TrustSnapshot> five = Revision(5);
  ASSERT_EQ(StatusText(holder.Swap(five)), "OK");
  EXPECT_EQ(StatusText(holder.Swap(Revision(5))),
            "FAILED_PRECONDITION: snapshot revision 5 is not newer than the current revision 5");
  EXPECT_EQ(StatusText(holder.Swap(Revision(4))),
            "FAILED_PRECONDITION: snapshot revision 4 is not newer than the current revision 5");
  EXPECT_EQ(holder.Get(), five);
  EXPECT_EQ(StatusText(holder.Swap(Revision(9))), "OK");
  EXPECT_EQ(holder.Get()->revision(), 9u);
}

TEST(SnapshotHolderTest, RejectsAnotherTrustDomain) {
  SnapshotHolder holder;
  ASSERT_EQ(StatusText(holder.Swap(Revision(1))), "OK");
  v1::TrustSnapshot other = EmptySnapshot(2);
  other.set_trust_domain(kPartner);
  EXPECT_EQ(StatusText(holder.Swap(MustCreate(other))),
            "FAILED_PRECONDITION: snapshot trust domain fabrikam.test differs from the current "
            "trust domain contoso.test");
  EXPECT_EQ(holder.Get()->revision(), 1u);
}

TEST(SnapshotHolderTest, NotifiesSubscribersInOrderAfterTheSwapIsVisible) {
  SnapshotHolder holder;
  std::vector<std::string> calls;
  holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>& s) {
    // The holder already serves the snapshot being announced.
    EXPECT_EQ(holder.Get(), s);
    calls.push_back("a" + std::to_string(s->revision()));
  });
  int b = holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>& s) {
    calls.push_back("b" + std::to_string(s->revision()));
  });
  ASSERT_EQ(StatusText(holder.Swap(Revision(1))), "OK");
  // A rejected swap notifies nobody.
  EXPECT_FALSE(holder.Swap(Revision(1)).ok());
  holder.Unsubscribe(b);
  ASSERT_EQ(StatusText(holder.Swap(Revision(2))), "OK");
  EXPECT_EQ(calls, (std::vector<std::string>{"a1", "b1", "a2"}));
}

TEST(SnapshotHolderTest, SubscriberMayUnsubscribeItselfAndOthers) {
  SnapshotHolder holder;
  std::vector<std::string> calls;
  int self = 0;
  int later = 0;
  self = holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>&) {
    calls.push_back("self");
    holder.Unsubscribe(self);
    holder.Unsubscribe(later);
  });
  later = holder.Subscribe(
      [&](const std::shared_ptr<const TrustSnapshot>&) { calls.push_back("later"); });
  ASSERT_EQ(StatusText(holder.Swap(Revision(1))), "OK");
  ASSERT_EQ(StatusText(holder.Swap(Revision(2))), "OK");
  EXPECT_EQ(calls, (std::vector<std::string>{"self"}));
}

TEST(SnapshotHolderTest, SwapFromASubscriberIsRefusedNotADeadlock) {
  SnapshotHolder holder;
  absl::Status inner = absl::OkStatus();
  holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>& s) {
    if (s->revision() == 1) inner = holder.Swap(Revision(2));
  });
  ASSERT_EQ(StatusText(holder.Swap(Revision(1))), "OK");
  EXPECT_EQ(StatusText(inner),
            "FAILED_PRECONDITION: snapshot swap from inside a snapshot subscriber is not allowed");
  EXPECT_EQ(holder.Get()->revision(), 1u);
}

TEST(SnapshotHolderTest, UnsubscribeWaitsForARunningNotification) {
  SnapshotHolder holder;
  absl::Notification running;
  absl::Notification release;
  std::atomic<bool> finished{false};
  int id = holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>&) {
    running.Notify();
    release.WaitForNotification();
    finished = true;
  });
  std::thread swapper([&] { EXPECT_TRUE(holder.Swap(Revision(1)).ok()); });
  running.WaitForNotification();
  absl::Notification unsubscribing;
  std::atomic<bool> unsubscribed{false};
  bool finished_when_unsubscribed = false;
  std::thread unsubscriber([&] {
    unsubscribing.Notify();
    holder.Unsubscribe(id);
    finished_when_unsubscribed = finished;
    unsubscribed = true;
  });
  // Readers are not blocked by the notification in progress.
  EXPECT_EQ(holder.Get()->revision(), 1u);
  // The subscriber cannot finish before `release`, so neither can an
  // Unsubscribe that waits for it.
  unsubscribing.WaitForNotification();
  EXPECT_FALSE(unsubscribed);
  release.Notify();
  unsubscriber.join();
  swapper.join();
  EXPECT_TRUE(finished_when_unsubscribed);
}

// Readers take references while writers swap: every reader sees a
// non-decreasing sequence of complete snapshots, every accepted swap is
// announced exactly once and in increasing order.
TEST(SnapshotHolderTest, ConcurrentReadersAndWriters) {
  constexpr uint64_t kRevisions = 400;
  std::vector<std::shared_ptr<const TrustSnapshot>> snapshots;
  for (uint64_t r = 1; r <= kRevisions; ++r) snapshots.push_back(Revision(r));

  SnapshotHolder holder;
  absl::Mutex mu;
  std::vector<uint64_t> announced;
  holder.Subscribe([&](const std::shared_ptr<const TrustSnapshot>& s) {
    absl::MutexLock lock(&mu);
    announced.push_back(s->revision());
  });

  std::atomic<bool> done{false};
  std::atomic<int> accepted{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      while (!done) {
        std::shared_ptr<const TrustSnapshot> s = holder.Get();
        if (s == nullptr) continue;
        EXPECT_GE(s->revision(), last);
        EXPECT_EQ(s->proto().revision(), s->revision());
        EXPECT_EQ(s->trust_domain(), kDomain);
        last = s->revision();
      }
    });
  }
  // Two writers race over the same revisions; older ones lose.
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (uint64_t i = w; i < kRevisions; i += 1) {
        if (holder.Swap(snapshots[i]).ok()) ++accepted;
      }
    });
  }
  for (std::thread& t : writers) t.join();
  done = true;
  for (std::thread& t : readers) t.join();

  EXPECT_EQ(holder.Get()->revision(), kRevisions);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(announced.size(), static_cast<size_t>(accepted.load()));
  for (size_t i = 1; i < announced.size(); ++i) EXPECT_LT(announced[i - 1], announced[i]);
  ASSERT_FALSE(announced.empty());
  EXPECT_EQ(announced.back(), kRevisions);
}

}  // namespace
}  // namespace trustfabric::trust
