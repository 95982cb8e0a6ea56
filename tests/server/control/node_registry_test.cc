// NodeRegistry: connection tracking by SPIFFE ID, propagation waits and
// the bound on remembered nodes.
#include "server/control/node_registry.h"

#include <sys/types.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/thread_state.h"

namespace trustfabric::control {
namespace {

NodeIdentity Node(const std::string& name) {
  NodeIdentity n;
  n.spiffe_id = absl::StrCat("spiffe://contoso.test/edge/", name);
  n.role = "edge";
  return n;
}

TEST(NodeRegistryTest, ANodeIsConnectedWhileAnyOfItsStreamsIsOpen) {
  NodeRegistry nodes;
  const uint64_t a = nodes.Connect(Node("e1"), 3);
  const uint64_t b = nodes.Connect(Node("e1"), 3);
  EXPECT_EQ(nodes.connected_count(), 1u);
  nodes.Disconnect(a);
  EXPECT_EQ(nodes.connected_count(), 1u);
  EXPECT_TRUE(nodes.Status()[0].connected());
  nodes.Disconnect(b);
  EXPECT_EQ(nodes.connected_count(), 0u);
  ASSERT_EQ(nodes.Status().size(), 1u);
  EXPECT_FALSE(nodes.Status()[0].connected());
  EXPECT_EQ(nodes.Status()[0].applied_revision(), 3u);
  // Reports of a closed stream are ignored.
  nodes.Acked(a, 9);
  EXPECT_EQ(nodes.Status()[0].applied_revision(), 3u);
}

TEST(NodeRegistryTest, WaitAppliedCountsListedNodesAndAnyNodes) {
  NodeRegistry nodes;
  const uint64_t e1 = nodes.Connect(Node("e1"), 1);
  const uint64_t e2 = nodes.Connect(Node("e2"), 1);
  const std::vector<std::string> both = {Node("e1").spiffe_id, Node("e2").spiffe_id};
  const absl::Time soon = absl::Now() + absl::Milliseconds(50);

  NodeRegistry::WaitResult r = nodes.WaitApplied(2, both, 0, soon);
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.applied, 0u);
  EXPECT_EQ(r.required, 2u);

  nodes.Acked(e1, 2);
  r = nodes.WaitApplied(2, {}, 1, absl::Now() + absl::Milliseconds(50));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.applied, 1u);
  r = nodes.WaitApplied(2, both, 1, absl::Now() + absl::Milliseconds(50));
  EXPECT_FALSE(r.complete);
  EXPECT_EQ(r.applied, 1u);
  EXPECT_EQ(r.required, 2u);

  // An ack wakes a thread already waiting (without a deadline, so only the
  // ack can end the wait).
  std::atomic<pid_t> waiter{0};
  std::thread waiting([&] {
    waiter = testing::CurrentThreadId();
    r = nodes.WaitApplied(2, both, 2, absl::InfiniteFuture());
  });
  EXPECT_TRUE(testing::Eventually([&] { return testing::IsBlocked(waiter); }));
  nodes.Acked(e2, 3);
  waiting.join();
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.applied, 2u);
}

TEST(NodeRegistryTest, StopWaitsEndsWaitsAtOnce) {
  NodeRegistry nodes;
  nodes.Connect(Node("e1"), 1);
  // A wait already in progress ends (it has no deadline of its own)...
  std::atomic<pid_t> waiter{0};
  NodeRegistry::WaitResult r;
  std::thread waiting([&] {
    waiter = testing::CurrentThreadId();
    r = nodes.WaitApplied(2, {Node("e1").spiffe_id}, 0, absl::InfiniteFuture());
  });
  EXPECT_TRUE(testing::Eventually([&] { return testing::IsBlocked(waiter); }));
  nodes.StopWaits();
  waiting.join();
  EXPECT_FALSE(r.complete);
  EXPECT_TRUE(r.stopped);
  // ... and so does a later one.
  r = nodes.WaitApplied(2, {Node("e1").spiffe_id}, 0, absl::InfiniteFuture());
  EXPECT_FALSE(r.complete);
  EXPECT_TRUE(r.stopped);
}

TEST(NodeRegistryTest, TheLongestUnseenDisconnectedNodesAreForgottenBeyondTheBound) {
  absl::Time now = absl::FromUnixSeconds(1000);
  NodeRegistry nodes([&] { return now; });
  const uint64_t kept = nodes.Connect(Node("connected"), 1);
  for (size_t i = 0; i < NodeRegistry::kMaxDisconnectedNodes + 5; ++i) {
    now += absl::Seconds(1);
    nodes.Disconnect(nodes.Connect(Node(absl::StrCat("n", i)), 1));
  }
  std::vector<v1::NodeStatus> status = nodes.Status();
  EXPECT_EQ(status.size(), NodeRegistry::kMaxDisconnectedNodes + 1);
  bool oldest_gone = true;
  bool connected_kept = false;
  for (const v1::NodeStatus& s : status) {
    for (int i = 0; i < 5; ++i) {
      oldest_gone = oldest_gone && s.spiffe_id() != Node(absl::StrCat("n", i)).spiffe_id;
    }
    connected_kept = connected_kept || s.spiffe_id() == Node("connected").spiffe_id;
  }
  EXPECT_TRUE(oldest_gone);
  EXPECT_TRUE(connected_kept);
  EXPECT_EQ(nodes.connected_count(), 1u);
  nodes.Disconnect(kept);
}

}  // namespace
}  // namespace trustfabric::control
