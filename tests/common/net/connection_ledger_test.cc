// ConnectionLedger and DescriptorBudget on real sockets: what a listener
// admits, refuses and forgets as connections open and close.
#include "common/net/connection_ledger.h"

#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "gtest/gtest.h"

namespace trustfabric::net {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1800000000);

// Connected sockets standing for accepted connections; closed at the end.
class Sockets {
 public:
  ~Sockets() {
    for (int fd : fds_) close(fd);
  }
  int Open() {
    int pair[2];
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
    fds_.push_back(pair[1]);
    return pair[0];  // the "accepted" side; the test closes it when it wants
  }

 private:
  std::vector<int> fds_;
};

ListenerLimits Small() {
  ListenerLimits l;
  l.max_connections = 6;
  l.max_connections_per_source = 3;
  l.max_handshaking = 5;
  l.max_handshaking_per_source = 2;
  l.handshake_timeout = absl::Seconds(10);
  return l;
}

TEST(ConnectionLedgerTest, OneSourceIsHeldToItsHandshakeBoundOthersStillGetIn) {
  Sockets s;
  ConnectionLedger ledger(Small());
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kNone);
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kNone);
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kSourceHandshaking);
  EXPECT_EQ(ledger.Admit("192.0.2.2", s.Open(), kT0), Refusal::kNone);
  EXPECT_EQ(ledger.open_from("192.0.2.1"), 2);
  EXPECT_EQ(ledger.open(), 3);
}

TEST(ConnectionLedgerTest, ConnectionsPastTheHandshakeTimeoutCountOnlyAsOpen) {
  Sockets s;
  ConnectionLedger ledger(Small());
  ASSERT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kNone);
  ASSERT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kNone);
  const absl::Time later = kT0 + absl::Seconds(11);
  EXPECT_EQ(ledger.handshaking(later), 0);
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), later), Refusal::kNone);
  // Three open from the source: its connection bound, whatever their age.
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), later + absl::Seconds(11)),
            Refusal::kSourceConnections);
}

TEST(ConnectionLedgerTest, ListenerBoundsApplyAcrossSources) {
  Sockets s;
  ConnectionLedger ledger(Small());
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(ledger.Admit("198.51.100." + std::to_string(i), s.Open(), kT0), Refusal::kNone);
  }
  EXPECT_EQ(ledger.Admit("198.51.100.9", s.Open(), kT0), Refusal::kListenerHandshaking);
  const absl::Time later = kT0 + absl::Seconds(11);
  EXPECT_EQ(ledger.Admit("198.51.100.9", s.Open(), later), Refusal::kNone);
  EXPECT_EQ(ledger.Admit("198.51.100.10", s.Open(), later), Refusal::kListenerConnections);
}

// Two connections from 192.0.2.1 admitted, then the first closed by its
// owner (as gRPC closes a connection).
void AdmitTwoAndCloseTheFirst(ConnectionLedger* ledger, Sockets* s) {
  const int a = s->Open();
  ASSERT_EQ(ledger->Admit("192.0.2.1", a, kT0), Refusal::kNone);
  ASSERT_EQ(ledger->Admit("192.0.2.1", s->Open(), kT0), Refusal::kNone);
  close(a);
}

TEST(ConnectionLedgerTest, ClosedConnectionsAreForgottenBySweep) {
  Sockets s;
  ConnectionLedger ledger(Small());
  AdmitTwoAndCloseTheFirst(&ledger, &s);
  ledger.Sweep();
  EXPECT_EQ(ledger.open_from("192.0.2.1"), 1);
  EXPECT_EQ(ledger.open(), 1);
}

TEST(ConnectionLedgerTest, ARefusalFirstSweepsSoAFreedSlotIsSeen) {
  Sockets s;
  ConnectionLedger ledger(Small());
  AdmitTwoAndCloseTheFirst(&ledger, &s);
  EXPECT_EQ(ledger.Admit("192.0.2.1", s.Open(), kT0), Refusal::kNone);
  EXPECT_EQ(ledger.open_from("192.0.2.1"), 2);
}

TEST(ConnectionLedgerTest, AReusedDescriptorNumberIsANewConnection) {
  Sockets s;
  ConnectionLedger ledger(Small());
  const int a = s.Open();
  ASSERT_EQ(ledger.Admit("192.0.2.1", a, kT0), Refusal::kNone);
  close(a);
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);  // lowest free: a again
  ASSERT_EQ(pair[0], a);
  EXPECT_EQ(ledger.Admit("192.0.2.2", pair[0], kT0), Refusal::kNone);
  EXPECT_EQ(ledger.open(), 1);
  EXPECT_EQ(ledger.open_from("192.0.2.1"), 0);
  ledger.Sweep();  // same descriptor, same socket: still open
  EXPECT_EQ(ledger.open_from("192.0.2.2"), 1);
  close(pair[0]);
  close(pair[1]);
}

TEST(DescriptorBudgetTest, KeepsItsHeadroom) {
  const int open_now = CountOpenDescriptors();
  ASSERT_GT(open_now, 0);
  DescriptorBudget budget(open_now + 20, 10);
  budget.Recount();
  int admitted = 0;
  for (int i = 0; i < 30; ++i) {
    if (budget.Admits(/*fd=*/3)) ++admitted;
  }
  // About limit - headroom - open: the count may include a descriptor or
  // two of the test runner's own.
  EXPECT_GE(admitted, 8);
  EXPECT_LE(admitted, 10);
  EXPECT_FALSE(budget.Admits(3));
  budget.Recount();  // nothing was really opened: the room comes back
  EXPECT_TRUE(budget.Admits(3));
  // A descriptor number past the usable part is refused whatever the count.
  EXPECT_FALSE(budget.Admits(open_now + 15));
}

TEST(RefusalTest, NamesAreMetricLabels) {
  for (Refusal r : AllRefusals()) EXPECT_FALSE(RefusalName(r).empty());
  EXPECT_EQ(RefusalName(Refusal::kDescriptors), "descriptors");
}

}  // namespace
}  // namespace trustfabric::net
