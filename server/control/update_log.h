// UpdateLog: the current trust snapshot, the retained history of deltas
// that led to it, and the serialized Watch updates built from them.
//
// Every update a watcher can need is "from the revision the node holds to
// the current one": a TrustDelta concatenating the retained deltas when the
// node's revision is within the history, else the whole snapshot as
// SnapshotChunks. Each distinct update is serialized once per revision and
// the same bytes are handed to every stream that needs them (a thousand
// nodes one revision behind share one buffer). gRPC-free: updates are
// serialized v1::WatchResponse messages ("frames").
//
//   UpdateLog log({.history_revisions = 1000});
//   log.Reset(snapshot_at_7, history_up_to_7);
//   log.Publish(snapshot_at_8, delta_7_to_8);
//   std::shared_ptr<const Update> u = log.UpdateFrom(5);  // delta 5 -> 8
//   for (const std::string& frame : u->frames) Send(frame);
#ifndef TRUSTFABRIC_SERVER_CONTROL_UPDATE_LOG_H_
#define TRUSTFABRIC_SERVER_CONTROL_UPDATE_LOG_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

// Largest SnapshotChunk payload, and largest delta frame: a delta that
// would be bigger travels as a snapshot instead.
inline constexpr size_t kDefaultChunkBytes = size_t{1} << 20;

// One update for a watcher: the frames to write, in order. Immutable and
// shared between streams.
struct Update {
  enum class Kind { kDelta, kSnapshot };
  Kind kind = Kind::kSnapshot;
  // For deltas: the revision the node must hold.
  uint64_t base_revision = 0;
  uint64_t revision = 0;
  // Serialized v1::WatchResponse messages.
  std::vector<std::string> frames;
  size_t bytes = 0;
};

// Thread-safe.
class UpdateLog {
 public:
  struct Options {
    // Deltas retained; at least 1.
    uint32_t history_revisions = 1000;
    // Chunk payload size and largest delta frame.
    size_t chunk_bytes = kDefaultChunkBytes;
  };

  explicit UpdateLog(Options options);
  UpdateLog(const UpdateLog&) = delete;
  UpdateLog& operator=(const UpdateLog&) = delete;

  // Replaces the state: `current` and the deltas that led to it (oldest
  // first, contiguous, the last one's revision equal to current's; older
  // entries beyond history_revisions are dropped). Does not notify.
  // REQUIRES: current != nullptr.
  void Reset(std::shared_ptr<const trust::TrustSnapshot> current,
             std::vector<v1::TrustDelta> history) ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `next` current, appending `delta` (base: the previous revision,
  // revision: next's; its required_features are set to next's) to the
  // history, then calls every listener.
  // REQUIRES: next != nullptr; delta.base_revision() == revision();
  // delta.revision() == next->revision().
  void Publish(std::shared_ptr<const trust::TrustSnapshot> next, v1::TrustDelta delta)
      ABSL_LOCKS_EXCLUDED(mu_, listeners_mu_);

  uint64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  std::shared_ptr<const trust::TrustSnapshot> current() const ABSL_LOCKS_EXCLUDED(mu_);
  // The oldest revision a node can resume from with a delta (the current
  // revision when no history is retained).
  uint64_t oldest_resumable() const ABSL_LOCKS_EXCLUDED(mu_);
  // Deltas retained.
  size_t retained() const ABSL_LOCKS_EXCLUDED(mu_);

  // What brings a node that holds `from` to the current revision; null
  // when `from` is the current revision. A delta when `from` is non-zero,
  // within the retained history, and the delta frame is no larger than
  // both the chunk size and the snapshot; otherwise the snapshot in chunks
  // of at most chunk_bytes (at least one chunk). A delta carries the current
  // snapshot's required_features and generation (the log holds one
  // generation: a node of another one is sent UpdateFrom(0)).
  std::shared_ptr<const Update> UpdateFrom(uint64_t from) const ABSL_LOCKS_EXCLUDED(mu_);

  // Called after each Publish, outside the log's locks, in publish order.
  int Subscribe(std::function<void()> listener) ABSL_LOCKS_EXCLUDED(listeners_mu_);
  // After it returns the listener is not running and will not be called.
  // REQUIRES: not called from a listener.
  void Unsubscribe(int id) ABSL_LOCKS_EXCLUDED(notify_mu_, listeners_mu_);

  // How many times a full snapshot was serialized (tests check that many
  // streams share one serialization).
  uint64_t snapshot_serializations() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  std::shared_ptr<const Update> SnapshotUpdate() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t SnapshotBytes() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Trim() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;

  mutable absl::Mutex mu_;
  std::shared_ptr<const trust::TrustSnapshot> current_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::TrustDelta> history_ ABSL_GUARDED_BY(mu_);
  // Caches for the current revision, dropped when it changes.
  mutable std::shared_ptr<const Update> snapshot_update_ ABSL_GUARDED_BY(mu_);
  mutable absl::flat_hash_map<uint64_t, std::shared_ptr<const Update>> delta_updates_
      ABSL_GUARDED_BY(mu_);
  mutable size_t snapshot_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  mutable uint64_t snapshot_serializations_ ABSL_GUARDED_BY(mu_) = 0;

  // Held while notifying, so listeners see publishes in order.
  absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(listeners_mu_);
  mutable absl::Mutex listeners_mu_;
  std::map<int, std::function<void()>> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_UPDATE_LOG_H_
