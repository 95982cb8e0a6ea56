// AcceptLoop on loopback: admitted connections are handed over, refused ones
// are reset at once and counted, other sources still get in, and the loop
// keeps its descriptor headroom.
#include "common/net/accept_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace trustfabric::net {
namespace {

// A client connection from `source` (a loopback address) to 127.0.0.1:port.
int Connect(const char* source, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in from{};
  from.sin_family = AF_INET;
  inet_pton(AF_INET, source, &from.sin_addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)), 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  return fd;
}

// Whether the server reset (or closed) `fd` within 5 s.
bool ClosedByServer(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 5000) != 1) return false;
  char byte;
  return recv(fd, &byte, 1, 0) <= 0;
}

// What the loop handed over, kept open like a server would.
class Handed {
 public:
  ~Handed() {
    absl::MutexLock lock(&mu_);
    for (int fd : fds_) close(fd);
  }
  AcceptLoop::HandOver Callback() {
    return [this](int, int fd) {
      absl::MutexLock lock(&mu_);
      fds_.push_back(fd);
    };
  }
  size_t WaitFor(size_t n) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return fds_.size() >= n; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return fds_.size();
  }
  int at(size_t i) {
    absl::MutexLock lock(&mu_);
    return fds_.at(i);
  }

 private:
  absl::Mutex mu_;
  std::vector<int> fds_ ABSL_GUARDED_BY(mu_);
};

// A loop on 127.0.0.1 (any free port) handing its connections to `handed`;
// null (and a test failure) when it cannot bind.
std::unique_ptr<AcceptLoop> Started(const std::string& name, ListenerLimits limits,
                                    Handed* handed,
                                    DescriptorBudget* budget = &DescriptorBudget::Global()) {
  auto loop = AcceptLoop::Bind(name, "127.0.0.1:0", limits, budget);
  EXPECT_TRUE(loop.ok()) << loop.status();
  if (!loop.ok()) return nullptr;
  (*loop)->Start(handed->Callback());
  return *std::move(loop);
}

TEST(AcceptLoopTest, AFloodingSourceIsResetAndCountedWhileAnotherGetsIn) {
  ListenerLimits limits;
  limits.max_connections_per_source = 3;
  limits.max_handshaking_per_source = 3;
  Handed handed;
  auto loop = Started("test-flood", limits, &handed);
  ASSERT_NE(loop, nullptr);

  std::vector<int> flood;
  for (int i = 0; i < 3; ++i) flood.push_back(Connect("127.0.0.2", loop->port()));
  ASSERT_EQ(handed.WaitFor(3), 3u);
  const int refused = Connect("127.0.0.2", loop->port());
  EXPECT_TRUE(ClosedByServer(refused));
  const int other = Connect("127.0.0.3", loop->port());
  EXPECT_EQ(handed.WaitFor(4), 4u);

  // Handed over as gRPC's own accept would leave them: no Nagle delay.
  int nodelay = 0;
  socklen_t len = sizeof(nodelay);
  ASSERT_EQ(getsockopt(handed.at(0), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
  EXPECT_NE(nodelay, 0);

  auto counts = ListenerCounters()["test-flood"];
  EXPECT_EQ(counts.accepted, 4);
  EXPECT_EQ(counts.refused["source_connections"], 1);
  EXPECT_EQ(counts.refused["descriptors"], 0);  // every reason is present
  EXPECT_EQ(counts.open, 4);
  for (int fd : flood) close(fd);
  close(refused);
  close(other);
}

// Writes `n` bytes to `fd` and reads `n` bytes from `peer` (both blocking).
void Exchange(int fd, int peer, size_t n) {
  std::string data(n, 'x');
  ASSERT_EQ(send(fd, data.data(), n, 0), static_cast<ssize_t>(n));
  size_t got = 0;
  while (got < n) {
    ssize_t r = recv(peer, data.data(), n - got, 0);
    ASSERT_GT(r, 0);
    got += static_cast<size_t>(r);
  }
}

TEST(AcceptLoopTest, ConnectionsThatTalkLeaveTheHandshakeBound) {
  ListenerLimits limits;
  limits.max_handshaking_per_source = 2;
  Handed handed;
  auto loop = Started("test-talk", limits, &handed);
  ASSERT_NE(loop, nullptr);
  std::vector<int> clients;
  for (int i = 0; i < 2; ++i) clients.push_back(Connect("127.0.0.5", loop->port()));
  ASSERT_EQ(handed.WaitFor(2), 2u);
  // Both talk (as a TLS handshake would): past their first flights.
  for (int i = 0; i < 2; ++i) {
    const int server_side = handed.at(i);
    Exchange(clients[i], server_side, ConnectionLedger::kHandshakeBytes + 100);
    Exchange(server_side, clients[i], ConnectionLedger::kHandshakeBytes + 100);
  }
  // Two more from the same address get in; the two after those, silent
  // still, hold the bound again.
  for (int i = 0; i < 2; ++i) clients.push_back(Connect("127.0.0.5", loop->port()));
  EXPECT_EQ(handed.WaitFor(4), 4u);
  const int refused = Connect("127.0.0.5", loop->port());
  EXPECT_TRUE(ClosedByServer(refused));
  EXPECT_EQ(ListenerCounters()["test-talk"].refused["source_handshaking"], 1);
  for (int fd : clients) close(fd);
  close(refused);
}

TEST(AcceptLoopTest, KeepsTheProcesssDescriptorHeadroom) {
  DescriptorBudget budget(CountOpenDescriptors() + 16, 8);
  Handed handed;
  auto loop = Started("test-budget", ListenerLimits(), &handed, &budget);
  ASSERT_NE(loop, nullptr);
  std::vector<int> clients;
  bool refused = false;
  for (int i = 0; i < 16 && !refused; ++i) {
    clients.push_back(Connect("127.0.0.4", loop->port()));
    pollfd p{clients.back(), POLLIN, 0};
    refused = poll(&p, 1, 500) == 1;  // a reset; admitted ones stay silent
  }
  EXPECT_TRUE(refused);
  EXPECT_GE(ListenerCounters()["test-budget"].refused["descriptors"], 1);
  for (int fd : clients) close(fd);
}

TEST(AcceptLoopTest, AMalformedAddressNamesTheRule) {
  auto loop = AcceptLoop::Bind("test-bad", "127.0.0.1", ListenerLimits());
  ASSERT_FALSE(loop.ok());
  EXPECT_EQ(loop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(loop.status().message().find("expected host:port"), std::string::npos);
  auto port = AcceptLoop::Bind("test-bad", "127.0.0.1:99999", ListenerLimits());
  EXPECT_EQ(port.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(AcceptLoopTest, StopClosesTheListeningSocket) {
  Handed handed;
  auto loop = Started("test-stop", ListenerLimits(), &handed);
  ASSERT_NE(loop, nullptr);
  const int port = loop->port();
  loop->Stop();
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  EXPECT_NE(connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof(to)), 0);
  close(fd);
}

}  // namespace
}  // namespace trustfabric::net
