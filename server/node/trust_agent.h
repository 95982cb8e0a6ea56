// TrustAgent: keeps a node's trust state current from its domain's control
// plane (docs/design.md §5). Every node (edge, front-end, registrar) embeds one.
//
// The agent holds a TrustDistribution.Watch stream to one of the configured
// control-plane endpoints (tried in order, failing over to the next, with
// jittered exponential backoff once all have failed), and hands every
// message to its UpdateApplier (update_applier.h): each update -- a full
// snapshot sent as SnapshotChunks, or a TrustDelta on the applied revision --
// is validated, persisted as last-known-good, swapped into the node's
// SnapshotHolder and only then ACKed; a bad update is NACKed with its reason
// and changes nothing. At start-up the last-known-good snapshot is swapped in
// before any control plane answers, so the node serves from it;
// ServingStatus() says whether that state is too old to use. The agent also
// reports the peer certificates the node accepted on the same stream.
//
//   TF_ASSIGN_OR_RETURN(auto bootstrap, node::TrustAgent::LoadBootstrapRoots(config));
//   auto source = std::make_shared<tls::TrustSource>(&holder, "contoso.test", bootstrap);
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<node::TrustAgent> agent,
//                       node::TrustAgent::Create(config, {cert_file, key_file}, &holder,
//                                                source));
//   source->set_accepted_chain_observer(
//       [a = agent.get()](const std::vector<pki::Certificate>& c) { a->ReportAcceptedChain(c); });
//   TF_RETURN_IF_ERROR(agent->Start());
//   ...
//   // per call (fail-closed past max_staleness_seconds):
//   TF_RETURN_IF_ERROR(agent->ServingStatus());
//   ...
//   agent->Stop();  // also done by the destructor
//
// Threads: the agent runs one thread of its own (plus gRPC's callback
// threads); every public method is thread-safe.
#ifndef TRUSTFABRIC_SERVER_NODE_TRUST_AGENT_H_
#define TRUSTFABRIC_SERVER_NODE_TRUST_AGENT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/pki/verify.h"
#include "common/time/clock.h"
#include "common/tls/client_security.h"
#include "common/tls/trust_source.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "common/trust/validation.h"
#include "server/node/peer_certificate_reports.h"
#include "server/node/update_applier.h"
#include "trustfabric/v1/config.pb.h"
#include "trustfabric/v1/control.pb.h"

namespace trustfabric::node {

// Tuning that the configuration file does not expose; the defaults suit
// production, tests shorten them.
struct TrustAgentOptions {
  // How long a new stream may take to reach a connected channel before the
  // next endpoint is tried.
  absl::Duration connect_timeout = absl::Seconds(5);
  // A stream on which nothing (update or keepalive) arrived for this long is
  // considered dead and replaced. Must exceed the control plane's keepalive
  // interval.
  absl::Duration idle_timeout = absl::Seconds(90);
  // See UpdateApplierOptions.
  absl::Duration confirmation_persist_interval = absl::Seconds(60);
  size_t max_snapshot_bytes = trust::kMaxSnapshotBytes;
  uint32_t max_snapshot_chunks = 65536;
  // Subscribe.agent, shown in the control plane's status listings.
  std::string agent_description = "trustfabric-trust-agent";
};

// A consistent view of the agent's state, for status pages and tests: its
// applier's (applied revision, update counters, confirmation time,
// last-known-good revision), and the stream's. Here last_error is the last
// failure of either: a stream that could not be opened or ended, an update
// refused, a last-known-good file refused or not written. OK when nothing
// failed yet; not cleared by later successes.
struct TrustAgentStatus : UpdateApplierStatus {
  // A Watch stream is open on a connected channel (or has delivered a
  // message).
  bool connected = false;
  // The endpoint of the current stream, or of the last one tried:
  // "cp1.contoso.test at 127.0.0.1:7000"; "" before the first attempt.
  std::string endpoint;
  // Watch streams opened since start.
  uint64_t streams_opened = 0;
  // Accepted peer certificates sent to a control plane since start (see
  // TrustAgent::ReportAcceptedChain).
  uint64_t peer_certificates_reported = 0;
};

class TrustAgent {
 public:
  // The bootstrap bundle of `config.bootstrap_bundle_file`: the local
  // domain's root CA certificate(s), which verify the control plane until
  // the first snapshot arrives. INVALID_ARGUMENT naming
  // trust_agent.bootstrap_bundle_file when it is unset, unreadable, not PEM,
  // or holds a certificate that is not a CA or has a weak key.
  static absl::StatusOr<std::shared_ptr<const pki::RootStore>> LoadBootstrapRoots(
      const v1::TrustAgentConfig& config);

  // Validates `config` (INVALID_ARGUMENT naming the trust_agent.* field),
  // creates state_dir if needed, and loads the last-known-good snapshot: if
  // it is intact, of the local domain, structurally valid and newer than
  // what `holder` holds, it is swapped into `holder` before this returns.
  // A missing file is normal; a corrupt or invalid one is logged, reported
  // by last_error() and ignored (the node starts without it).
  // Does not connect; call Start().
  // REQUIRES: `holder` outlives the agent; `source` was built on `holder`
  // (INVALID_ARGUMENT otherwise) with the local trust domain and the
  // bootstrap roots. `clock` stamps confirmations and judges staleness.
  // `identity` is the node's own certificate and key (INVALID_ARGUMENT when
  // unreadable or mismatched).
  static absl::StatusOr<std::unique_ptr<TrustAgent>> Create(
      const v1::TrustAgentConfig& config, const tls::ClientIdentity& identity,
      trust::SnapshotHolder* holder, std::shared_ptr<const tls::TrustSource> source,
      Clock clock = RealClock(), TrustAgentOptions options = {});

  // Stops (see Stop).
  ~TrustAgent();
  TrustAgent(const TrustAgent&) = delete;
  TrustAgent& operator=(const TrustAgent&) = delete;

  // Starts watching the control plane on the agent's thread.
  // FAILED_PRECONDITION when already started or stopped.
  absl::Status Start();

  // Cancels the stream, wakes any backoff wait and joins the thread; returns
  // promptly (well within a second). An update being applied is finished
  // first. Idempotent; the agent cannot be restarted.
  void Stop();

  // Whether the node may serve from its trust state:
  //   OK while there is a snapshot and it is fresh enough (always, when
  //     max_staleness_seconds is 0 or the policy is fail_static);
  //   FAILED_PRECONDITION "no trust state yet: ..." before any snapshot
  //     (none from a control plane and no usable last-known-good);
  //   UNAVAILABLE "trust state is stale: last confirmed by the control
  //     plane 3h ago (policy fail_closed)" past max_staleness_seconds under
  //     fail_closed.
  // An unspecified policy means fail_static. Cheap: meant for every call.
  absl::Status ServingStatus() const ABSL_LOCKS_EXCLUDED(mu_);

  // When a control plane last confirmed the state (see TrustAgentStatus).
  absl::Time last_confirmed() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t applied_revision() const ABSL_LOCKS_EXCLUDED(mu_);
  bool connected() const ABSL_LOCKS_EXCLUDED(mu_);
  std::string endpoint() const ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status last_error() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t updates_applied() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t updates_nacked() const ABSL_LOCKS_EXCLUDED(mu_);
  TrustAgentStatus status() const ABSL_LOCKS_EXCLUDED(mu_);

  // Path of the last-known-good file.
  const std::string& last_known_good_path() const { return applier_.last_known_good().path(); }

  // Queues the certificates of a peer chain the node verified and accepted
  // (its TrustSource's accepted-chain observer calls this), to be reported
  // once each to the control plane on the Watch stream as
  // WatchRequest.peer_certificates (at most 256 per message), so that a DER
  // hash an operator revokes resolves to the certificate's signed body and
  // key. Quick and non-blocking: runs inside handshakes. Bounded (see
  // PeerCertificateReports); certificates queued while no stream is open
  // are sent once one is.
  void ReportAcceptedChain(const std::vector<pki::Certificate>& chain) ABSL_LOCKS_EXCLUDED(mu_);
  PeerCertificateReports::Counters report_counters() const { return reports_.counters(); }

 private:
  class WatchCall;
  struct StreamOutcome;

  TrustAgent(v1::TrustAgentConfig config, std::shared_ptr<tls::ChannelCache> channels,
             trust::SnapshotHolder* holder, std::shared_ptr<const tls::TrustSource> source,
             Clock clock, TrustAgentOptions options);

  // The agent's thread: streams, failover and backoff until Stop.
  void Run() ABSL_LOCKS_EXCLUDED(mu_);
  // One Watch stream on `endpoint`, until it ends, idles out, or Stop.
  StreamOutcome RunStream(const v1::Endpoint& endpoint) ABSL_LOCKS_EXCLUDED(mu_);
  // Writes queued peer certificates on `call` (a few messages at a time).
  void SendReports(WatchCall& call) ABSL_LOCKS_EXCLUDED(mu_);
  // After a swap: re-verifies the chain the control plane of `call`
  // presented against the new state (the snapshot rules from now on).
  absl::Status CheckControlPlaneTrusted(WatchCall& call, const v1::Endpoint& endpoint) const;

  void RecordError(absl::Status error) ABSL_LOCKS_EXCLUDED(mu_);
  // Waits for `d` or until Stop; false when stopping.
  bool SleepUnlessStopping(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  bool stopping() const ABSL_LOCKS_EXCLUDED(mu_);
  // The jittered wait for `*backoff`, which then doubles up to the maximum.
  absl::Duration NextBackoff(absl::Duration* backoff) const;

  const v1::TrustAgentConfig config_;
  const std::shared_ptr<tls::ChannelCache> channels_;
  const std::shared_ptr<const tls::TrustSource> source_;
  const Clock clock_;
  const TrustAgentOptions options_;
  const absl::Duration backoff_initial_;
  const absl::Duration backoff_max_;

  // Thread-safe accessors; Handle on the agent's thread (and in Create
  // before it starts) only.
  UpdateApplier applier_;
  // Thread-safe itself.
  PeerCertificateReports reports_;

  // Serializes Start and Stop, which own the thread.
  absl::Mutex stop_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::thread thread_ ABSL_GUARDED_BY(stop_mu_);

  mutable absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  // The current stream, so that Stop can cancel it.
  WatchCall* call_ ABSL_GUARDED_BY(mu_) = nullptr;
  // The stream's part of the status (the applier's part is not used), and
  // the last error of either.
  TrustAgentStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_TRUST_AGENT_H_
