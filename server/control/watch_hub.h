// WatchHub: TrustDistribution.Watch, the stream that carries every trust
// change to every node of the domain (docs/design.md §5).
//
// Protocol (the node side is server/node's trust agent):
//   node -> Subscribe{last_applied_revision}            first message
//   hub  -> TrustDelta{base = node's revision}          node within history
//        |  SnapshotChunk 0..count-1 of one revision    otherwise
//   node -> Ack{revision} | Nack{revision, reason}      per update
//   node -> PeerCertificates{certificates_der}          any time after
//                                                       Subscribe
//   hub  -> keepalive                                   when idle
// At most one update is unacknowledged per stream. When the node answers
// and the current revision is newer than what it holds, the next update is
// computed from the revision it holds, so a slow node is coalesced to the
// latest state and never holds up the others. A NACKed revision is not
// resent; the node gets the next newer one. Updates are serialized once
// (UpdateLog) and the same bytes are written to every stream that needs
// them, without copying.
//
// PeerCertificates are the certificates of peer chains the node accepted;
// they go to the certificate index (parsed and bounded there: at most 256
// looked at per message, malformed ones counted and dropped) and do not
// touch the ACK/NACK exchange. The index also learns each node's own
// identity chain when its stream starts.
//
// Callback API: no thread per stream. One hub thread fans out published
// revisions and sends keepalives; everything else runs in gRPC reactions.
//
//   WatchHub hub({.local_domain = "contoso.test"}, &control->updates(), &nodes, security);
//   builder.RegisterService(&hub);
//   ...
//   hub.Shutdown();        // ends every stream
//   server->Shutdown();    // then the server; the hub outlives it
#ifndef TRUSTFABRIC_SERVER_CONTROL_WATCH_HUB_H_
#define TRUSTFABRIC_SERVER_CONTROL_WATCH_HUB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/tls/server_security.h"
#include "server/control/certificate_index.h"
#include "server/control/node_registry.h"
#include "server/control/update_log.h"
#include "trustfabric/v1/control.grpc.pb.h"

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/server_callback.h>

namespace trustfabric::control {

class WatchHub final
    : public v1::TrustDistribution::WithRawCallbackMethod_Watch<v1::TrustDistribution::Service> {
 public:
  struct Options {
    // The trust domain whose nodes may watch.
    std::string local_domain;
    // A keepalive is written when a stream wrote nothing for this long.
    absl::Duration keepalive_interval = absl::Seconds(10);
    // A stream that has not subscribed by then is ended (DEADLINE_EXCEEDED).
    absl::Duration subscribe_timeout = absl::Seconds(30);
    // Where node identities and reported peer certificates go (may be null:
    // reports are then read and ignored). Must outlive the hub.
    CertificateIndex* certificates = nullptr;
  };

  // `log`, `nodes` and `security` (the listener the streams arrive on)
  // must outlive the hub.
  WatchHub(Options options, UpdateLog* log, NodeRegistry* nodes,
           std::shared_ptr<tls::ListenerSecurity> security);
  // REQUIRES: the server this hub is registered with has shut down.
  ~WatchHub() override;

  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Ends every open stream with UNAVAILABLE and refuses new ones. Call
  // before shutting the server down so it does not wait for the streams.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

  // Open streams.
  size_t stream_count() const ABSL_LOCKS_EXCLUDED(mu_);

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Watch(
      grpc::CallbackServerContext* context) override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Stream;

  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  void Remove(uint64_t id) ABSL_LOCKS_EXCLUDED(mu_);

  const Options options_;
  UpdateLog* const log_;
  NodeRegistry* const nodes_;
  const std::shared_ptr<tls::ListenerSecurity> security_;
  int subscription_ = -1;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Stream>> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // A revision was published since the hub thread last fanned out.
  bool published_ ABSL_GUARDED_BY(mu_) = false;
  bool shutting_down_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_WATCH_HUB_H_
