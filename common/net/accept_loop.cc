#include "common/net/accept_loop.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace trustfabric::net {
namespace {

constexpr absl::Duration kSweepInterval = absl::Seconds(1);
constexpr absl::Duration kLogInterval = absl::Seconds(10);
constexpr int kMaxAcceptsPerWakeup = 256;

// Cumulative counters by listener name, and the loops alive now.
struct Registry {
  absl::Mutex mu;
  std::map<std::string, ListenerCounts> totals ABSL_GUARDED_BY(mu);
  std::set<const AcceptLoop*> live ABSL_GUARDED_BY(mu);
  // Log lines written per listener and reason: time of the last one, and
  // how many refusals it has not told yet.
  std::map<std::pair<std::string, std::string>, std::pair<absl::Time, int64_t>> logged
      ABSL_GUARDED_BY(mu);
};

Registry& Reg() {
  static Registry* r = new Registry;
  return *r;
}

// Applies `update` to the cumulative counters of listener `name`.
template <typename Update>
void UpdateTotals(const std::string& name, Update update) {
  Registry& r = Reg();
  absl::MutexLock lock(&r.mu);
  update(r.totals[name]);
}

// Closes an accepted connection with a reset, not a FIN: the kernel frees
// it at once.
void ResetAndClose(int fd) {
  linger reset{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
  close(fd);
}

// Logs at most one line per listener and reason every kLogInterval, telling
// how many refusals the line stands for.
void LogRateLimited(const std::string& listener, const std::string& rule,
                    const std::string& line_without_count) {
  Registry& r = Reg();
  int64_t untold = 0;
  {
    absl::MutexLock lock(&r.mu);
    auto& [last, pending] = r.logged[{listener, rule}];
    ++pending;
    const absl::Time now = absl::Now();
    if (now - last < kLogInterval) return;
    last = now;
    untold = pending - 1;
    pending = 0;
  }
  if (untold > 0) {
    spdlog::warn("{} ({} more like it since the last such line)", line_without_count, untold);
  } else {
    spdlog::warn("{}", line_without_count);
  }
}

std::string SourceOf(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {0};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
  } else {
    return "local";
  }
  return text;
}

absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": expected host:port"));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  int number = 0;
  if (!absl::SimpleAtoi(*port, &number) || number < 0 || number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": port must be a number from 0 to 65535"));
  }
  return absl::OkStatus();
}

}  // namespace

std::map<std::string, ListenerCounts> ListenerCounters() {
  Registry& r = Reg();
  absl::MutexLock lock(&r.mu);
  std::map<std::string, ListenerCounts> out = r.totals;
  const absl::Time now = absl::Now();
  for (const AcceptLoop* loop : r.live) {
    ListenerCounts& c = out[loop->name()];
    c.open += loop->ledger().open();
    c.handshaking += loop->ledger().handshaking(now);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<AcceptLoop>> AcceptLoop::Bind(std::string name,
                                                             const std::string& address,
                                                             ListenerLimits limits,
                                                             DescriptorBudget* budget) {
  std::string host;
  std::string port;
  if (absl::Status s = SplitHostPort(address, &host, &port); !s.ok()) return s;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("address \"", address, "\": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> results(found, freeaddrinfo);
  std::string last_error = "no address";
  for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
      last_error = std::strerror(errno);
      close(fd);
      continue;
    }
    sockaddr_storage bound{};
    socklen_t len = sizeof(bound);
    getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
    const int bound_port =
        bound.ss_family == AF_INET6
            ? ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port)
            : ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port);
    return std::unique_ptr<AcceptLoop>(
        new AcceptLoop(std::move(name), fd, bound_port, limits, budget));
  }
  return absl::UnavailableError(absl::StrCat("cannot listen on ", address, ": ", last_error));
}

AcceptLoop::AcceptLoop(std::string name, int fd, int port, ListenerLimits limits,
                       DescriptorBudget* budget)
    : name_(std::move(name)), listen_fd_(fd), port_(port), ledger_(limits), budget_(budget) {
  pipe2(wake_, O_CLOEXEC | O_NONBLOCK);
  reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
  Registry& r = Reg();
  absl::MutexLock lock(&r.mu);
  ListenerCounts& totals = r.totals[name_];  // every reason present from the start, at 0
  for (Refusal why : AllRefusals()) totals.refused.emplace(std::string(RefusalName(why)), 0);
  r.live.insert(this);
}

AcceptLoop::~AcceptLoop() {
  Stop();
  Registry& r = Reg();
  {
    absl::MutexLock lock(&r.mu);
    r.live.erase(this);
  }
  for (int fd : {wake_[0], wake_[1], reserve_fd_}) {
    if (fd >= 0) close(fd);
  }
}

void AcceptLoop::Start(HandOver hand_over) {
  hand_over_ = std::move(hand_over);
  thread_ = std::thread([this] { Run(); });
}

void AcceptLoop::Stop() {
  if (stopping_.exchange(true)) return;
  if (thread_.joinable()) {
    const char byte = 1;
    (void)!write(wake_[1], &byte, 1);
    thread_.join();
  }
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
  }
}

void AcceptLoop::Run() {
  while (!stopping_.load()) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    const int ready = poll(fds, 2, static_cast<int>(absl::ToInt64Milliseconds(kSweepInterval)));
    if (stopping_.load()) break;
    if (ready > 0 && (fds[0].revents & POLLIN)) AcceptReady();
    const absl::Time now = absl::Now();
    if (now - last_sweep_ >= kSweepInterval) {
      last_sweep_ = now;
      ledger_.Sweep();
      budget_->Recount();
    }
  }
}

void AcceptLoop::AcceptReady() {
  for (int i = 0; i < kMaxAcceptsPerWakeup; ++i) {
    sockaddr_storage peer{};
    socklen_t len = sizeof(peer);
    const int fd = accept4(listen_fd_, reinterpret_cast<sockaddr*>(&peer), &len,
                           SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR || errno == ECONNABORTED) continue;
      OnAcceptError(errno);
      return;
    }
    const std::string source = SourceOf(peer);
    if (!budget_->Admits(fd)) {
      Refuse(fd, source, Refusal::kDescriptors);
      continue;
    }
    if (Refusal why = ledger_.Admit(source, fd, absl::Now()); why != Refusal::kNone) {
      Refuse(fd, source, why);
      continue;
    }
    UpdateTotals(name_, [](ListenerCounts& c) { ++c.accepted; });
    // As gRPC's own accept does: no Nagle delay on small HTTP/2 frames
    // (handshakes and unary calls would otherwise wait for delayed ACKs).
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    hand_over_(listen_fd_, fd);
  }
}

void AcceptLoop::Refuse(int fd, const std::string& source, Refusal why) {
  const std::string rule(RefusalName(why));
  // Counted before the peer can see the reset.
  UpdateTotals(name_, [&rule](ListenerCounts& c) { ++c.refused[rule]; });
  ResetAndClose(fd);
  const ListenerLimits& l = ledger_.limits();
  std::string reason;
  switch (why) {
    case Refusal::kSourceConnections:
      reason = absl::StrCat(l.max_connections_per_source, " connections from this address");
      break;
    case Refusal::kSourceHandshaking:
      reason = absl::StrCat(l.max_handshaking_per_source,
                            " connections from this address still in their handshake");
      break;
    case Refusal::kListenerConnections:
      reason = absl::StrCat(l.max_connections, " connections on the listener");
      break;
    case Refusal::kListenerHandshaking:
      reason = absl::StrCat(l.max_handshaking, " connections still in their handshake");
      break;
    case Refusal::kDescriptors: {
      const DescriptorBudget::Counts d = budget_->counts();
      reason = absl::StrCat("the process keeps ", d.headroom, " of its ", d.limit,
                            " descriptors in reserve");
      break;
    }
    case Refusal::kNone:
      break;
  }
  LogRateLimited(name_, rule,
                 absl::StrCat("refused connection listener=", name_, " peer=\"", source,
                              "\" rule=", rule, " reason=\"", reason, "\""));
}

void AcceptLoop::OnAcceptError(int error) {
  UpdateTotals(name_, [](ListenerCounts& c) { ++c.accept_errors; });
  LogRateLimited(name_, "accept_error",
                 absl::StrCat("accept failed listener=", name_, " error=\"",
                              std::strerror(error), "\"; the listener keeps accepting"));
  if ((error == EMFILE || error == ENFILE) && reserve_fd_ >= 0) {
    // Out of descriptors: give up the reserve to take one connection off
    // the queue and reset it, so the queue drains instead of filling.
    close(reserve_fd_);
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ResetAndClose(fd);
    reserve_fd_ = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return;
  }
  // ENOBUFS, ENOMEM: let the system breathe before the next try.
  poll(nullptr, 0, 10);
}

}  // namespace trustfabric::net
