// A scripted control plane for trust agent tests: a real gRPC server with
// mutual TLS (tls::ListenerSecurity, internal listener) serving
// TrustDistribution.Watch. Each stream records the agent's Subscribe,
// every ACK/NACK and the peer certificates it reports; the test decides
// what the stream sends and when it ends.
// It is a protocol peer for unit tests, not a control plane: it keeps no
// state and checks nothing beyond the transport.
//
//   ScriptedWatchServer cp(server_source, cp_files);
//   ... start an agent dialing cp.address() ...
//   ASSERT_TRUE(cp.WaitForSubscribe(1).has_value());
//   cp.SendSnapshot(state, /*chunks=*/3);
//   std::optional<v1::WatchRequest> reply = cp.NextReply();  // the ACK
#ifndef TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_WATCH_SERVER_H_
#define TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_WATCH_SERVER_H_

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/server_security.h"
#include "common/tls/trust_source.h"
#include "tests/common/tls/tls_env.h"
#include "tests/server/node/watch_messages.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/server.h>

namespace trustfabric::testing {

// Every wait in these tests is bounded by this.
inline constexpr absl::Duration kWait = absl::Seconds(20);

class ScriptedWatchServer {
 public:
  // Listens on `address` ("127.0.0.1:0": a free port) presenting
  // `identity`, and verifies clients against `source`.
  ScriptedWatchServer(std::shared_ptr<const tls::TrustSource> source, const NodeFiles& identity,
                   const std::string& address = "127.0.0.1:0");
  // Ends every stream, then shuts the server down.
  ~ScriptedWatchServer();
  ScriptedWatchServer(const ScriptedWatchServer&) = delete;
  ScriptedWatchServer& operator=(const ScriptedWatchServer&) = delete;

  // "127.0.0.1:<port>".
  const std::string& address() const { return address_; }

  // Queues messages for the newest open stream, or for the next stream
  // to subscribe when none is open.
  void Send(v1::WatchResponse message);
  void Send(const std::vector<v1::WatchResponse>& messages);
  void SendSnapshot(const v1::TrustSnapshot& snapshot, int chunks);

  // Ends every open stream with `status` (after what was queued on it).
  void EndStreams(const grpc::Status& status);

  // The n-th Subscribe received (1-based), waiting up to `timeout`.
  std::optional<v1::Subscribe> WaitForSubscribe(int n, absl::Duration timeout = kWait);
  // The next ACK or NACK not returned before, waiting up to `timeout`.
  std::optional<v1::WatchRequest> NextReply(absl::Duration timeout = kWait);
  // The DER certificates of every PeerCertificates message so far, in
  // order, once at least `n` arrived or `timeout` passed.
  std::vector<std::string> WaitForReported(size_t n, absl::Duration timeout = kWait);
  // PeerCertificates messages so far, and the most certificates in one.
  int reports() const;
  size_t max_report_size() const;
  // Streams that subscribed so far.
  int subscribes() const;
  // Streams currently open.
  int open_streams() const;

 private:
  class Stream;
  class Service;

  void OnSubscribe(Stream* stream, const v1::Subscribe& subscribe);
  void OnReply(const v1::WatchRequest& reply);
  void OnReport(const v1::PeerCertificates& report);
  void OnStreamEnding(Stream* stream);

  std::shared_ptr<tls::ListenerSecurity> security_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;

  mutable absl::Mutex mu_;
  // Streams are deleted only with this object, so a stream pointer taken
  // under mu_ stays valid after mu_ is released.
  std::vector<std::unique_ptr<Stream>> all_streams_ ABSL_GUARDED_BY(mu_);
  std::vector<Stream*> open_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::WatchResponse> pending_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::Subscribe> subscribes_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::WatchRequest> replies_ ABSL_GUARDED_BY(mu_);
  size_t replies_returned_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> reported_ ABSL_GUARDED_BY(mu_);
  int reports_ ABSL_GUARDED_BY(mu_) = 0;
  size_t max_report_size_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_WATCH_SERVER_H_
