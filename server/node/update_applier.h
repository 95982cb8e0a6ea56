// UpdateApplier: what a node does with the trust updates its control plane
// sends on the Watch stream (docs/design.md §5), without the stream. The
// trust agent (trust_agent.h) feeds it every WatchResponse and sends the
// ACKs/NACKs it returns; the benchmarks replay recorded updates through it.
//
// The pipeline of one update, each step refusing what is wrong with a NACK
// whose reason names the step, so that a refused update changes nothing:
//
//   WatchResponse --UpdateDecoder--> snapshot chunks assembled and parsed,
//        |                           or a delta (sequence and bounds checked)
//        v
//   delta of the applied generation, applied on the applied revision
//        v                                   (trust::ApplyDelta)
//   validated: local domain, generation and revision (below),
//              trust::TrustSnapshot::Create
//        v
//   persisted as last-known-good (fsync'ed)      durable before visible,
//        v
//   swapped into the node's SnapshotHolder       visible before ACKed
//        v
//   ACK
//
// Generations (docs/design.md §5): revisions are ordered within the
// generation of the control plane's store. Of the applied generation, an
// update must be of a newer revision; a full snapshot of a higher epoch is
// taken whatever its revision (the store was restored from a backup: logged
// at warning level and counted); a lower epoch, another generation of the
// same epoch, and a delta of any other generation are refused. Epoch 0 is
// the generation of a state from before generations.
//
// Keepalives only confirm: they refresh the confirmation time, and rewrite
// the last-known-good file when the time stored there is older than
// confirmation_persist_interval.
//
//   node::UpdateApplier applier("contoso.test", state_dir, &holder);
//   applier.LoadLastKnownGood();  // at start-up, before any stream
//   for (v1::WatchRequest& reply : applier.Handle(response, clock()))
//     stream.Write(std::move(reply));
//   ...
//   applier.StreamEnded();  // a snapshot cut off is resent whole
//
// Threads: Handle, LoadLastKnownGood and StreamEnded are called by one
// thread at a time (the agent's); the accessors (status(), Confirmation(),
// applied_revision()) are thread-safe and cheap.
#ifndef TRUSTFABRIC_SERVER_NODE_UPDATE_APPLIER_H_
#define TRUSTFABRIC_SERVER_NODE_UPDATE_APPLIER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "common/trust/validation.h"
#include "server/node/last_known_good.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::node {

// The first step: turns the messages of one Watch stream into whole
// updates. Snapshot chunks must come in order (index 0..count-1, one
// revision and count throughout); the assembled bytes must parse as a
// v1.TrustSnapshot of the chunks' revision. A sequence that breaks these
// rules is refused once (its remaining chunks are dropped silently); a
// delta or a new sequence in the middle of one refuses the one in progress.
// Validates nothing beyond that: a decoded update may still be refused by
// the next steps. Thread-compatible.
class UpdateDecoder {
 public:
  // Bounds on an assembled snapshot (its chunks' data, concatenated) and on
  // SnapshotChunk.count. `on_step`, when set, is called with "chunks
  // assembled" and "snapshot parsed" (see UpdateApplierOptions::on_step).
  UpdateDecoder(size_t max_snapshot_bytes, uint32_t max_snapshot_chunks,
                std::function<void(absl::string_view step)> on_step = nullptr);

  // A refused revision and why (INVALID_ARGUMENT "snapshot chunks: ..." or
  // "snapshot: ...").
  struct Refusal {
    uint64_t revision = 0;
    absl::Status reason;
  };

  // What one message amounts to: refusals first (in the order they are to
  // be NACKed), then at most one update.
  struct Decoded {
    enum class Kind {
      kNothing,    // mid-sequence, or everything was refused
      kSnapshot,   // `snapshot` holds a complete snapshot
      kDelta,      // `delta` points into the message
      kKeepalive,  //
      kUnknown,    // an update kind this node does not know (a newer control plane)
    };
    Kind kind = Kind::kNothing;
    std::vector<Refusal> refused;
    std::optional<v1::TrustSnapshot> snapshot;
    const v1::TrustDelta* delta = nullptr;
  };

  // REQUIRES: `response` outlives the returned `delta` pointer.
  Decoded Decode(const v1::WatchResponse& response);

  // The stream ended: forgets the sequence in progress (the next stream
  // resends a snapshot whole) and which one was refused.
  void Reset();

 private:
  void AddChunk(const v1::SnapshotChunk& chunk, Decoded* out);
  // Forgets the snapshot being assembled.
  void ResetAssembly();
  // Drops the sequence of `revision` and refuses it.
  void RefuseChunks(uint64_t revision, absl::string_view why, Decoded* out);

  const size_t max_snapshot_bytes_;
  const uint32_t max_snapshot_chunks_;
  const std::function<void(absl::string_view step)> on_step_;
  // The snapshot being assembled (revision 0: none).
  uint64_t assembling_revision_ = 0;
  uint32_t assembling_count_ = 0;
  uint32_t next_chunk_index_ = 0;
  std::string assembled_;
  // Later chunks of a sequence already refused are dropped without
  // another refusal.
  uint64_t refused_chunks_revision_ = 0;
};

struct UpdateApplierOptions {
  // A keepalive refreshes the confirmation time in memory at once, but
  // rewrites the last-known-good file only when the persisted time is at
  // least this old (0: on every keepalive).
  absl::Duration confirmation_persist_interval = absl::Seconds(60);
  // See UpdateDecoder.
  size_t max_snapshot_bytes = trust::kMaxSnapshotBytes;
  uint32_t max_snapshot_chunks = 65536;
  // Called with every failure as it happens (an update refused, a
  // last-known-good file refused or not written), on the calling thread and
  // outside the applier's lock; may be empty.
  std::function<void(const absl::Status&)> on_error;
  // Called after each step of an update with the step's name: "chunks
  // assembled", "snapshot parsed", "delta applied", "validated",
  // "persisted", "swapped". For the benchmarks' phase breakdowns; may be
  // empty.
  std::function<void(absl::string_view step)> on_step;
};

// A consistent view of the applier's state.
struct UpdateApplierStatus {
  // Revision of the snapshot applied or loaded (0: none).
  uint64_t applied_revision = 0;
  // Updates applied (and ACKed) / refused (and NACKed).
  uint64_t updates_applied = 0;
  uint64_t updates_nacked = 0;
  uint64_t last_nack_revision = 0;
  std::string last_nack_reason;
  // When a control plane last confirmed the state: any message arrived
  // (restored from last-known-good at start). InfinitePast: never.
  absl::Time last_confirmed = absl::InfinitePast();
  // Revision loaded from the last-known-good file (0: none).
  uint64_t last_known_good_revision = 0;
  // The last failure (see UpdateApplierOptions::on_error); OK when none.
  absl::Status last_error;
  // The generation of the applied snapshot (epoch 0: none or from before
  // generations), and how often a snapshot of a higher epoch replaced it.
  v1::Generation generation;
  uint64_t generation_switches = 0;
};

class UpdateApplier {
 public:
  // Applies the updates of `local_domain` into `holder`, persisting them in
  // state_dir/kLastKnownGoodFileName. Starts from what `holder` holds.
  // REQUIRES: `holder` outlives the applier; `state_dir` exists.
  UpdateApplier(std::string local_domain, std::string state_dir, trust::SnapshotHolder* holder,
                UpdateApplierOptions options = {});
  UpdateApplier(const UpdateApplier&) = delete;
  UpdateApplier& operator=(const UpdateApplier&) = delete;

  // Start-up: if the last-known-good file is intact, of the local domain,
  // structurally valid and newer than what the holder holds, swaps it in
  // and restores its confirmation time. Returns OK when it was used or when
  // there is none (NOT_FOUND is normal and not an error) or it is not
  // newer; otherwise the refusal (DATA_LOSS for a corrupt file,
  // FAILED_PRECONDITION for another domain, the validation error), also
  // recorded as the last error: the node then starts without it.
  absl::Status LoadLastKnownGood() ABSL_LOCKS_EXCLUDED(mu_);

  // Handles one message of the Watch stream received at `now`, and returns
  // the ACKs/NACKs to send, in order (none for a keepalive). Any message
  // confirms the state at `now`. An ACK of revision N is returned only once
  // N is durable in the last-known-good file and visible in the holder; a
  // NACK carries the revision and the reason, e.g. "delta: base revision 5
  // is not the applied revision 2", "snapshot: trust domain \"fabrikam.test\"
  // is not the local domain contoso.test", "required_features: ...",
  // "snapshot: generation epoch 1 is older than the applied generation
  // epoch 2 ...", "delta: generation epoch 2 id ... is not the applied
  // generation ...: a delta never crosses generations".
  std::vector<v1::WatchRequest> Handle(const v1::WatchResponse& response, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);

  // The stream ended (see UpdateDecoder::Reset).
  void StreamEnded();

  UpdateApplierStatus status() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t applied_revision() const ABSL_LOCKS_EXCLUDED(mu_);
  // The generation of the applied revision (what a Subscribe reports).
  v1::Generation generation() const ABSL_LOCKS_EXCLUDED(mu_);
  // The applied revision and when it was last confirmed, read together.
  struct Confirmation {
    uint64_t applied_revision = 0;
    absl::Time last_confirmed = absl::InfinitePast();
  };
  Confirmation confirmation() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::string& local_domain() const { return local_domain_; }
  const LastKnownGoodFile& last_known_good() const { return lkg_; }

 private:
  v1::WatchRequest HandleDelta(const v1::TrustDelta& delta, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  void HandleKeepalive(absl::Time now) ABSL_LOCKS_EXCLUDED(mu_);
  // Validates, persists (confirmed at `now`), swaps; then the ACK, or the
  // NACK with the reason.
  v1::WatchRequest Apply(v1::TrustSnapshot proto, absl::string_view kind, absl::Time now)
      ABSL_LOCKS_EXCLUDED(mu_);
  v1::WatchRequest Nack(uint64_t revision, const absl::Status& reason) ABSL_LOCKS_EXCLUDED(mu_);
  // OK when `next` may follow the applied state (see the banner); sets
  // *switches when it starts a higher epoch.
  absl::Status CheckGeneration(const v1::TrustSnapshot& next, absl::string_view kind,
                               bool* switches) const;
  void RecordError(const absl::Status& error) ABSL_LOCKS_EXCLUDED(mu_);
  void Step(absl::string_view step) const;

  const std::string local_domain_;
  trust::SnapshotHolder* const holder_;
  const UpdateApplierOptions options_;
  const LastKnownGoodFile lkg_;

  // Touched only by the thread that calls Handle (see the file banner).
  UpdateDecoder decoder_;
  std::shared_ptr<const trust::TrustSnapshot> current_;
  // Confirmation time stored in the last-known-good file.
  absl::Time persisted_confirmation_ = absl::InfinitePast();

  // Read by any thread.
  mutable absl::Mutex mu_;
  UpdateApplierStatus status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_UPDATE_APPLIER_H_
