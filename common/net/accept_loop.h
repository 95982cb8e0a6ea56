// A listening socket whose accept loop belongs to trustfabric, not to gRPC:
// every accepted connection passes the listener rules of docs/design.md §4
// (ConnectionLedger bounds, the process's DescriptorBudget) before it is
// handed over (to gRPC's external connection acceptor, see
// tls::GuardedListener); a refused connection is closed at once with a reset.
// The loop never stops accepting: when the process is out of descriptors
// (EMFILE/ENFILE) it drains the listen queue through a descriptor kept in
// reserve, and counts and logs it, so a flood cannot leave the port dead
// after it ends (gRPC 1.51's own loop stops for good, see docs/design.md §4).
//
//   auto loop = net::AcceptLoop::Bind("client", "127.0.0.1:0", limits);
//   int port = (*loop)->port();
//   (*loop)->Start([&](int listener_fd, int fd) { hand_to_grpc(listener_fd, fd); });
//   ...
//   (*loop)->Stop();
//
// Counters of every loop are in ListenerCounters() (for metrics).
#ifndef TRUSTFABRIC_COMMON_NET_ACCEPT_LOOP_H_
#define TRUSTFABRIC_COMMON_NET_ACCEPT_LOOP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/net/connection_ledger.h"

namespace trustfabric::net {

// What a listener did since the process started, by listener name.
struct ListenerCounts {
  int64_t open = 0;         // open connections (last sweep)
  int64_t handshaking = 0;  // of those, younger than the handshake timeout
  int64_t accepted = 0;     // admitted and handed over
  std::map<std::string, int64_t> refused;  // by RefusalName, every reason present
  int64_t accept_errors = 0;  // accept() failures (EMFILE, ENFILE, ENOMEM, ...)
};
std::map<std::string, ListenerCounts> ListenerCounters();

class AcceptLoop {
 public:
  // Receives an admitted connection; owns `fd` from then on.
  using HandOver = std::function<void(int listener_fd, int fd)>;

  // Binds and listens on `address` ("host:port", "[v6]:port"; port 0: any
  // free port). `name` names the listener in counters and log lines.
  // INVALID_ARGUMENT names a malformed address; UNAVAILABLE a bind failure.
  static absl::StatusOr<std::unique_ptr<AcceptLoop>> Bind(std::string name,
                                                          const std::string& address,
                                                          ListenerLimits limits,
                                                          DescriptorBudget* budget =
                                                              &DescriptorBudget::Global());
  ~AcceptLoop();  // Stop()

  AcceptLoop(const AcceptLoop&) = delete;
  AcceptLoop& operator=(const AcceptLoop&) = delete;

  // Starts accepting on a thread of its own.
  void Start(HandOver hand_over);
  // Stops accepting and closes the listening socket; connections already
  // handed over are not touched. Idempotent.
  void Stop();

  int port() const { return port_; }
  const std::string& name() const { return name_; }
  const ConnectionLedger& ledger() const { return ledger_; }

 private:
  AcceptLoop(std::string name, int fd, int port, ListenerLimits limits, DescriptorBudget* budget);
  void Run();
  void AcceptReady();
  void OnAcceptError(int error);
  void Refuse(int fd, const std::string& source, Refusal why);

  const std::string name_;
  int listen_fd_;
  const int port_;
  ConnectionLedger ledger_;
  DescriptorBudget* const budget_;
  int wake_[2] = {-1, -1};
  int reserve_fd_ = -1;  // given up to drain the queue at EMFILE
  HandOver hand_over_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  absl::Time last_sweep_ = absl::InfinitePast();
};

}  // namespace trustfabric::net

#endif  // TRUSTFABRIC_COMMON_NET_ACCEPT_LOOP_H_
