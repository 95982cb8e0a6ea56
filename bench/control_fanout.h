// The fan-out section's load process (control_fanout_load.cc): this
// binary re-executed with --load-process, holding N Watch streams to the
// control plane and N streams to the bare server, each on its own
// mutual-TLS connection with its own node certificate, so that the clients'
// CPU does not count against the servers'.
//
//   LoadOptions lo{cp->address(), bare_address, pki.dir().path(), 1000};
//   std::unique_ptr<LoadProcess> load = LoadProcess::Spawn(lo);
//   absl::StatusOr<std::string> line = load->ReadLine(absl::Seconds(600));  // "ready 1000"
//   ... rounds ...
//   load->Stop();
#ifndef TRUSTFABRIC_BENCH_CONTROL_FANOUT_H_
#define TRUSTFABRIC_BENCH_CONTROL_FANOUT_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

namespace trustfabric::bench {

inline constexpr char kBareName[] = "bare.contoso.test";
inline constexpr char kWatchMethod[] = "/trustfabric.v1.TrustDistribution/Watch";

// One slice holding a copy of `bytes`.
inline grpc::ByteBuffer BufferOf(const std::string& bytes) {
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

// What the load process is told (its command line).
struct LoadOptions {
  std::string cp_address;
  std::string bare_address;
  // Holds root.pem and watchers/w<i>.{crt,key} (BenchPki::WriteWatchers).
  std::string dir;
  int watchers = 0;
  // Streams opened at a time.
  int batch = 50;
};

// The load process itself: `watchers` watchers of the control plane and as
// many bare clients, opened in batches; prints "ready <n>" once every
// watcher has ACKed its first snapshot and every bare client has said
// hello, then runs until its stdin closes. Returns the exit status.
int LoadMain(const LoadOptions& o);

// The parent's handle on a load process.
class LoadProcess {
 public:
  // Starts /proc/self/exe --load-process with `o`; dies when it cannot.
  static std::unique_ptr<LoadProcess> Spawn(const LoadOptions& o);
  ~LoadProcess();
  LoadProcess(const LoadProcess&) = delete;
  LoadProcess& operator=(const LoadProcess&) = delete;

  // One line of the child's output, without the newline.
  absl::StatusOr<std::string> ReadLine(absl::Duration timeout);

  // Closes the child's stdin (its signal to stop) and reaps it; past
  // `grace` it is killed. Idempotent.
  void Stop(absl::Duration grace = absl::Seconds(40));

 private:
  LoadProcess(pid_t pid, int to_child, int from_child);

  pid_t pid_;
  int to_child_;
  int from_child_;
  std::string buffer_;
};

}  // namespace trustfabric::bench

#endif  // TRUSTFABRIC_BENCH_CONTROL_FANOUT_H_
