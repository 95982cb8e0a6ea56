#include "common/net/connection_ledger.h"

#include <dirent.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstddef>

#include "common/util/enum_names.h"

namespace trustfabric::net {
namespace {

// The socket's identity behind `fd`, if `fd` is open.
bool Identify(int fd, dev_t* dev, ino_t* ino) {
  struct stat st;
  if (fstat(fd, &st) != 0) return false;
  *dev = st.st_dev;
  *ino = st.st_ino;
  return true;
}

// Whether the TCP connection behind `fd` has received and sent (and had
// acknowledged) at least `bytes` bytes; false when unknown (not TCP).
bool PastBytes(int fd, uint64_t bytes) {
  struct tcp_info info {};
  socklen_t len = sizeof(info);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return false;
  if (len < offsetof(struct tcp_info, tcpi_bytes_received) + sizeof(info.tcpi_bytes_received)) {
    return false;
  }
  return info.tcpi_bytes_received >= bytes && info.tcpi_bytes_acked >= bytes;
}

}  // namespace

namespace {

constexpr util::EnumName<Refusal> kRefusalNames[] = {
    {Refusal::kSourceConnections, "source_connections"},
    {Refusal::kSourceHandshaking, "source_handshaking"},
    {Refusal::kListenerConnections, "listener_connections"},
    {Refusal::kListenerHandshaking, "listener_handshaking"},
    {Refusal::kDescriptors, "descriptors"},
};

}  // namespace

absl::string_view RefusalName(Refusal r) { return util::NameOf(kRefusalNames, r, ""); }

const std::vector<Refusal>& AllRefusals() {
  static const std::vector<Refusal>* all = [] {
    auto* v = new std::vector<Refusal>;
    for (const auto& row : kRefusalNames) v->push_back(row.value);
    return v;
  }();
  return *all;
}

ConnectionLedger::ConnectionLedger(ListenerLimits limits) : limits_(limits) {}

Refusal ConnectionLedger::Admit(const std::string& source, int fd, absl::Time now) {
  Entry entry{fd, 0, 0, now, source};
  if (!Identify(fd, &entry.dev, &entry.ino)) return Refusal::kListenerConnections;
  absl::MutexLock lock(&mu_);
  Refusal refusal = Check(source, now);
  if (refusal != Refusal::kNone && now - last_forced_sweep_ >= kForcedSweepInterval) {
    last_forced_sweep_ = now;
    SweepLocked();
    refusal = Check(source, now);
  }
  if (refusal != Refusal::kNone) return refusal;
  // A descriptor number gRPC closed and the kernel handed out again is a
  // new connection: forget the old entry first.
  auto same_fd = std::find_if(entries_.begin(), entries_.end(),
                              [fd](const Entry& e) { return e.fd == fd; });
  if (same_fd != entries_.end()) {
    if (--open_by_source_[same_fd->source] == 0) open_by_source_.erase(same_fd->source);
    entries_.erase(same_fd);
  }
  ++open_by_source_[source];
  entries_.push_back(std::move(entry));
  return Refusal::kNone;
}

Refusal ConnectionLedger::Check(const std::string& source, absl::Time now) const {
  auto it = open_by_source_.find(source);
  const int from_source = it == open_by_source_.end() ? 0 : it->second;
  if (from_source >= limits_.max_connections_per_source) return Refusal::kSourceConnections;
  if (from_source > 0) {
    const absl::Time young = now - limits_.handshake_timeout;
    int handshaking = 0;
    for (auto e = entries_.rbegin(); e != entries_.rend() && e->admitted > young; ++e) {
      if (e->source == source && Handshaking(*e, now)) ++handshaking;
    }
    if (handshaking >= limits_.max_handshaking_per_source) return Refusal::kSourceHandshaking;
  }
  if (static_cast<int>(entries_.size()) >= limits_.max_connections) {
    return Refusal::kListenerConnections;
  }
  if (HandshakingLocked(now) >= limits_.max_handshaking) return Refusal::kListenerHandshaking;
  return Refusal::kNone;
}

bool ConnectionLedger::Handshaking(const Entry& e, absl::Time now) const {
  return e.admitted > now - limits_.handshake_timeout && !e.past_first_flights;
}

int ConnectionLedger::HandshakingLocked(absl::Time now) const {
  const absl::Time young = now - limits_.handshake_timeout;
  auto first_young = std::partition_point(entries_.begin(), entries_.end(),
                                          [young](const Entry& e) { return e.admitted <= young; });
  return static_cast<int>(std::count_if(first_young, entries_.end(),
                                        [&](const Entry& e) { return Handshaking(e, now); }));
}

void ConnectionLedger::Sweep() {
  absl::MutexLock lock(&mu_);
  SweepLocked();
}

void ConnectionLedger::SweepLocked() {
  // Kept entries move forward in place, in their order (so by age).
  size_t kept = 0;
  for (Entry& e : entries_) {
    dev_t dev;
    ino_t ino;
    if (Identify(e.fd, &dev, &ino) && dev == e.dev && ino == e.ino) {
      if (!e.past_first_flights) e.past_first_flights = PastBytes(e.fd, kHandshakeBytes);
      if (&entries_[kept] != &e) entries_[kept] = std::move(e);
      ++kept;
    } else if (--open_by_source_[e.source] == 0) {
      open_by_source_.erase(e.source);
    }
  }
  entries_.resize(kept);
}

int ConnectionLedger::open() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(entries_.size());
}

int ConnectionLedger::handshaking(absl::Time now) const {
  absl::MutexLock lock(&mu_);
  return HandshakingLocked(now);
}

int ConnectionLedger::open_from(const std::string& source) const {
  absl::MutexLock lock(&mu_);
  auto it = open_by_source_.find(source);
  return it == open_by_source_.end() ? 0 : it->second;
}

namespace {

constexpr rlim_t kDescriptorCap = 1 << 20;

// The soft RLIMIT_NOFILE (capped), or 1024 when it cannot be read.
int SoftDescriptorLimit() {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return static_cast<int>(std::min(rl.rlim_cur, kDescriptorCap));
}

}  // namespace

DescriptorBudget& DescriptorBudget::Global() {
  static DescriptorBudget* budget = [] {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      const rlim_t want = std::min(rl.rlim_max, kDescriptorCap);
      if (rl.rlim_cur < want) {
        struct rlimit raised = rl;
        raised.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &raised);
      }
    }
    return new DescriptorBudget(FollowRlimit{});
  }();
  return *budget;
}

int DescriptorBudget::HeadroomFor(int limit) { return std::max(64, limit / 8); }

DescriptorBudget::DescriptorBudget(int limit, int headroom)
    : follows_rlimit_(false), limit_(limit), headroom_(headroom) {}

DescriptorBudget::DescriptorBudget(FollowRlimit) : follows_rlimit_(true), limit_(0), headroom_(0) {
  Recount();  // reads the limit
}

bool DescriptorBudget::Admits(int fd) {
  absl::MutexLock lock(&mu_);
  const int usable = limit_ - headroom_;
  if (fd + 1 > usable || counted_ + admitted_since_count_ + 1 > usable) return false;
  ++admitted_since_count_;
  return true;
}

void DescriptorBudget::Recount() {
  const int n = CountOpenDescriptors();
  const int limit = follows_rlimit_ ? SoftDescriptorLimit() : 0;
  absl::MutexLock lock(&mu_);
  if (n >= 0) counted_ = n;
  admitted_since_count_ = 0;
  if (follows_rlimit_) {
    limit_ = limit;
    headroom_ = HeadroomFor(limit);
  }
}

DescriptorBudget::Counts DescriptorBudget::counts() const {
  absl::MutexLock lock(&mu_);
  return {counted_ + admitted_since_count_, limit_, headroom_};
}

int CountOpenDescriptors() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory's own descriptor
}

}  // namespace trustfabric::net
