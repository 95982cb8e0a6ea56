// Accounting of one listener's open connections, for the listener rules of
// docs/design.md §4 ("Every listener survives floods"): how many connections
// a listener holds, how many come from one source address, and how many are
// still in their handshake: younger than the handshake timeout (an older
// connection has completed TLS, or gRPC has closed it) and not yet past the
// first flights (the kernel's TCP counters show fewer than
// kHandshakeBytes received from the client or sent and acknowledged to it;
// a connection that sends nothing stays here until it is closed). The
// ledger decides whether a newly accepted connection may stay; it never
// reads or writes the connection.
//
// A connection is recorded by its descriptor and the socket's identity
// (device + inode), so the ledger learns that gRPC closed a connection by
// looking at the descriptor (Sweep): a closed descriptor, or one reused for
// another socket, no longer matches.
//
//   net::ConnectionLedger ledger(limits);
//   net::Refusal r = ledger.Admit("192.0.2.7", fd, absl::Now());
//   if (r != net::Refusal::kNone) close(fd);   // refused: RefusalName(r)
//
// Thread-safe.
#ifndef TRUSTFABRIC_COMMON_NET_CONNECTION_LEDGER_H_
#define TRUSTFABRIC_COMMON_NET_CONNECTION_LEDGER_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trustfabric::net {

// The bounds of one listener (docs/design.md §4). Every field is positive.
struct ListenerLimits {
  // Open connections on the listener.
  int max_connections = 4096;
  // Open connections from one source address.
  int max_connections_per_source = 256;
  // Connections younger than the handshake timeout (still in TLS, or
  // waiting for the client's first HTTP/2 frames), on the listener.
  int max_handshaking = 512;
  // The same, from one source address.
  int max_handshaking_per_source = 32;
  // gRPC drops a connection that has not completed its handshake by then.
  absl::Duration handshake_timeout = absl::Seconds(10);
};

// Why a connection was refused; kNone: admitted.
enum class Refusal {
  kNone,
  kSourceConnections,   // max_connections_per_source
  kSourceHandshaking,   // max_handshaking_per_source
  kListenerConnections, // max_connections
  kListenerHandshaking, // max_handshaking
  kDescriptors,         // the process's descriptor budget (DescriptorBudget)
};

// "source_connections", "source_handshaking", "listener_connections",
// "listener_handshaking", "descriptors"; "" for kNone. Metric label values.
absl::string_view RefusalName(Refusal r);

// Every refusal but kNone, in a fixed order (metrics start them at 0).
const std::vector<Refusal>& AllRefusals();

class ConnectionLedger {
 public:
  explicit ConnectionLedger(ListenerLimits limits);

  // Records `fd` (an accepted socket from `source`, an address without the
  // port) if every bound allows it; otherwise returns the first bound it
  // would exceed and records nothing. Before refusing, closed connections
  // are swept (at most every `kForcedSweepInterval`), so a bound that
  // freed up is seen.
  Refusal Admit(const std::string& source, int fd, absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);

  // Forgets the connections whose descriptor was closed (or now names
  // another socket), and notes which young ones have left their first
  // flights. Cost: one fstat per open connection, one getsockopt per young
  // one.
  void Sweep() ABSL_LOCKS_EXCLUDED(mu_);

  // Open connections as last recorded (after the last Sweep or Admit).
  int open() const ABSL_LOCKS_EXCLUDED(mu_);
  // Of those, connections younger than the handshake timeout at `now`.
  int handshaking(absl::Time now) const ABSL_LOCKS_EXCLUDED(mu_);
  // Open connections from `source`.
  int open_from(const std::string& source) const ABSL_LOCKS_EXCLUDED(mu_);

  const ListenerLimits& limits() const { return limits_; }

  static constexpr absl::Duration kForcedSweepInterval = absl::Milliseconds(100);
  // Bytes each way past which a connection has left its first flights.
  static constexpr uint64_t kHandshakeBytes = 300;

 private:
  struct Entry {
    int fd;
    dev_t dev;
    ino_t ino;
    absl::Time admitted;
    std::string source;
    bool past_first_flights = false;
  };

  // Whether `e` is still in its handshake at `now` (see the banner).
  bool Handshaking(const Entry& e, absl::Time now) const;

  Refusal Check(const std::string& source, absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SweepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int HandshakingLocked(absl::Time now) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ListenerLimits limits_;
  mutable absl::Mutex mu_;
  // In admission order (so by age); Sweep keeps the order.
  std::vector<Entry> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> open_by_source_ ABSL_GUARDED_BY(mu_);
  absl::Time last_forced_sweep_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The process's file-descriptor budget: listeners stop admitting
// connections while the process uses more than `limit - headroom`
// descriptors, so the node keeps descriptors for its own outbound
// connections, files and the control plane's stream (docs/design.md §4).
class DescriptorBudget {
 public:
  // The process-wide budget. On first use it raises RLIMIT_NOFILE's soft
  // limit to the hard limit (capped at 1,048,576); it keeps
  // max(64, limit / 8) descriptors as headroom, and follows a limit changed
  // while the process runs (prlimit) at each Recount.
  static DescriptorBudget& Global();

  // A budget over `limit` descriptors with `headroom` kept back (tests).
  DescriptorBudget(int limit, int headroom);

  // Whether a connection just accepted as descriptor `fd` may be kept:
  // descriptors are allocated lowest first, so `fd` + 1 is a lower bound of
  // the open descriptors; the last count (Recount) plus the connections
  // admitted since is the other.
  bool Admits(int fd) ABSL_LOCKS_EXCLUDED(mu_);
  // Counts the open descriptors (/proc/self/fd); the global budget also
  // re-reads RLIMIT_NOFILE.
  void Recount() ABSL_LOCKS_EXCLUDED(mu_);

  struct Counts {
    int open;      // at the last Recount, plus admissions since
    int limit;     // the soft RLIMIT_NOFILE (or the test's limit)
    int headroom;  // kept free of connections
  };
  Counts counts() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  static int HeadroomFor(int limit);

  const bool follows_rlimit_;
  mutable absl::Mutex mu_;
  int limit_ ABSL_GUARDED_BY(mu_);
  int headroom_ ABSL_GUARDED_BY(mu_);
  int counted_ ABSL_GUARDED_BY(mu_) = 0;
  int admitted_since_count_ ABSL_GUARDED_BY(mu_) = 0;

  struct FollowRlimit {};
  explicit DescriptorBudget(FollowRlimit);
};

// Open descriptors of this process (entries of /proc/self/fd), or -1.
int CountOpenDescriptors();

}  // namespace trustfabric::net

#endif  // TRUSTFABRIC_COMMON_NET_CONNECTION_LEDGER_H_
