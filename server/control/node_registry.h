// NodeRegistry: what the control plane knows of the nodes of its domain.
//
// Filled by the Watch streams (one entry per SPIFFE ID, kept with
// connected=false after the node goes away) and read by the admin API:
// propagation status, propagation waits after a mutation, and safe rotation
// (which connected nodes an identity chain anchors). gRPC-free, so the
// control plane's rules are tested without streams.
//
//   NodeRegistry nodes;
//   uint64_t stream = nodes.Connect(identity, /*applied_revision=*/7);
//   nodes.Acked(stream, 8);
//   NodeRegistry::WaitResult r = nodes.WaitApplied(8, {}, 1, absl::Now() + absl::Seconds(10));
//   nodes.Disconnect(stream);
#ifndef TRUSTFABRIC_SERVER_CONTROL_NODE_REGISTRY_H_
#define TRUSTFABRIC_SERVER_CONTROL_NODE_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "server/control/certificate_index.h"
#include "trustfabric/v1/control.pb.h"

namespace trustfabric::control {

// A node's verified identity, as its Watch stream presented it.
struct NodeIdentity {
  // "spiffe://contoso.test/frontend/fe1": the registry key.
  std::string spiffe_id;
  // "edge", "frontend", "registrar", "control".
  std::string role;
  std::string dns_name;
  // Expiry of the leaf certificate.
  absl::Time not_after = absl::InfinitePast();
  // The root authority the chain is anchored at.
  std::string anchoring_root;
  // SHA-256 (hex) of each certificate of the chain, leaf first.
  std::vector<std::string> chain_sha256;
  // What revocations match of each certificate of the chain, in the same
  // order (safe rotation checks every revocation kind against it). May be
  // empty, or hold members known by their DER hash only.
  std::vector<CertificateFacts> chain;
};

// Thread-safe.
class NodeRegistry {
 public:
  // Disconnected nodes kept for status listings; beyond this the longest
  // unseen are forgotten.
  static constexpr size_t kMaxDisconnectedNodes = 10000;

  explicit NodeRegistry(Clock clock = RealClock());
  NodeRegistry(const NodeRegistry&) = delete;
  NodeRegistry& operator=(const NodeRegistry&) = delete;

  // A stream of `node` subscribed, holding `applied_revision` (0: none).
  // Returns the stream's id for its later reports. A node may have several
  // streams; it is connected while any is open.
  uint64_t Connect(const NodeIdentity& node, uint64_t applied_revision) ABSL_LOCKS_EXCLUDED(mu_);
  void Disconnect(uint64_t stream) ABSL_LOCKS_EXCLUDED(mu_);
  // The node applied `revision`.
  void Acked(uint64_t stream, uint64_t revision) ABSL_LOCKS_EXCLUDED(mu_);
  // The node refused `revision` with `reason`; it stays on what it had.
  void Nacked(uint64_t stream, uint64_t revision, std::string reason) ABSL_LOCKS_EXCLUDED(mu_);
  // The stream showed a sign of life (any message).
  void Seen(uint64_t stream) ABSL_LOCKS_EXCLUDED(mu_);

  // Every known node, sorted by SPIFFE ID.
  std::vector<v1::NodeStatus> Status() const ABSL_LOCKS_EXCLUDED(mu_);
  // The identities of the connected nodes, sorted by SPIFFE ID.
  std::vector<NodeIdentity> ConnectedNodes() const ABSL_LOCKS_EXCLUDED(mu_);
  size_t connected_count() const ABSL_LOCKS_EXCLUDED(mu_);
  // NACKs received since start.
  uint64_t nacks_total() const ABSL_LOCKS_EXCLUDED(mu_);

  struct WaitResult {
    bool complete = false;
    // The wait ended early because StopWaits was called.
    bool stopped = false;
    // Nodes that applied the revision when the wait ended, out of
    // `required` (see WaitApplied).
    uint32_t applied = 0;
    uint32_t required = 0;
  };
  // Blocks until the revision is applied by every node of `nodes` (SPIFFE
  // IDs) and by at least `min_nodes` nodes in all, or until `deadline`.
  // `applied`/`required` describe the unmet condition (the `nodes` one
  // first), or the `nodes` one when complete and `nodes` is non-empty.
  WaitResult WaitApplied(uint64_t revision, const std::vector<std::string>& nodes,
                         uint32_t min_nodes, absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

  // Ends every current and future WaitApplied at once (server shutdown).
  void StopWaits() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Entry {
    NodeIdentity identity;
    int open_streams = 0;
    uint64_t applied_revision = 0;
    uint64_t last_nack_revision = 0;
    std::string last_nack_reason;
    absl::Time last_seen;
  };

  Entry* EntryOf(uint64_t stream) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictDisconnected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WaitResult Count(uint64_t revision, const std::vector<std::string>& nodes,
                   uint32_t min_nodes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock clock_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> nodes_ ABSL_GUARDED_BY(mu_);
  // Open stream id -> SPIFFE ID.
  absl::flat_hash_map<uint64_t, std::string> streams_ ABSL_GUARDED_BY(mu_);
  uint64_t next_stream_ ABSL_GUARDED_BY(mu_) = 1;
  // Entries with no open stream.
  size_t disconnected_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t nacks_ ABSL_GUARDED_BY(mu_) = 0;
  bool waits_stopped_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_NODE_REGISTRY_H_
