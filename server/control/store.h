// Store: where a control plane keeps its domain's trust state durably.
//
// A store holds one current state (the objects of a TrustSnapshot and its
// revision), a bounded history of the deltas that produced the last
// revisions (so watchers that fell behind resume with a delta), and an
// append-only audit log. Every mutation is one atomic, durable commit that
// is compare-and-swap on the revision; the revision is assigned by the store
// and strictly increases. The interface is shaped so that an implementation
// shared by several control-plane replicas (etcd, where the etcd revision
// orders changes) fits behind it as well as the embedded SQLite one.
//
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<control::Store> store,
//                       control::SqliteStore::Open({.path = "/var/lib/tf/control.db"}));
//   TF_ASSIGN_OR_RETURN(control::StoredState state, store->Load());
//   control::Mutation m;
//   m.expected_revision = state.snapshot.revision();
//   m.trust_domain = "contoso.test";
//   m.realm = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
//   m.changes.push_back(change);
//   m.time = absl::Now();
//   m.audit.push_back(record);
//   TF_ASSIGN_OR_RETURN(uint64_t revision, store->Commit(m));  // durable here
//
// Stores do not validate trust objects: the control plane checks admission
// and structure before it commits.
//
// Every store has a generation (docs/design.md §5): epoch 1 and a random id
// when it is created, a higher epoch and a new id only through Restore into
// an empty store. Load puts it in the snapshot. Audit records form a hash
// chain (common/audit/audit_chain.h): the store numbers them (seq) and links each to the
// previous one as it writes them, in the transaction that writes them.
#ifndef TRUSTFABRIC_SERVER_CONTROL_STORE_H_
#define TRUSTFABRIC_SERVER_CONTROL_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/audit/audit_chain.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

// The state a store loads: the current snapshot and the retained history.
struct StoredState {
  // Revision 0 with nothing else set but the generation when nothing was
  // ever committed.
  // Objects are in the order trust::ApplyChanges would have produced them,
  // and required_features is what they need (trust::RequiredFeatures).
  v1::TrustSnapshot snapshot;
  // Retained deltas, oldest first and contiguous: each one's base_revision
  // is the previous one's revision, and the last one's revision is
  // snapshot.revision() (empty for an empty store). Each carries the
  // required_features of the state at its revision.
  std::vector<v1::TrustDelta> history;
};

// One atomic change of the stored state.
struct Mutation {
  // Compare-and-swap: the commit applies only if the store's current
  // revision equals this (0 for an empty store).
  uint64_t expected_revision = 0;
  // The domain the state belongs to. The first commit records them; every
  // later commit must carry the same values.
  std::string trust_domain;
  std::string realm;
  // Applied in order with trust::ApplyChanges semantics: a put replaces the
  // object with the same key in place or appends it; a removal of a key
  // that is absent fails the whole commit. At least one.
  std::vector<v1::TrustChange> changes;
  // When the revision was produced (the snapshot's and the delta's
  // created_at).
  absl::Time time;
  // Audit records committed in the same transaction; the store sets their
  // revision to the new one, and their seq and prev_sha256.
  std::vector<v1::AuditRecord> audit;
};

// What Restore writes.
struct RestoreRequest {
  // The state to restore (a backup: `tfctl snapshot --out`). Its revision,
  // trust domain, realm and objects are kept; its generation decides the
  // new epoch.
  v1::TrustSnapshot snapshot;
  // The new epoch is the larger of the snapshot's epoch + 1 and this.
  uint64_t min_epoch = 0;
  // The audit record's actor and time.
  std::string actor;
  absl::Time time;
};

// Implementations are thread-safe.
class Store {
 public:
  virtual ~Store() = default;

  // The current state and retained history.
  virtual absl::StatusOr<StoredState> Load() = 0;

  // Commits `mutation` atomically and durably and returns the revision it
  // produced (greater than expected_revision). On any error nothing is
  // changed:
  //   ABORTED "expected revision 7, current is 9" when the CAS fails;
  //   FAILED_PRECONDITION when trust_domain or realm differ from the stored
  //     ones;
  //   NOT_FOUND when a removal names an absent key;
  //   INVALID_ARGUMENT for an empty or malformed mutation;
  //   UNAVAILABLE / DATA_LOSS when the storage fails.
  // History older than the configured length is trimmed in the same
  // transaction.
  virtual absl::StatusOr<uint64_t> Commit(const Mutation& mutation) = 0;

  // The retained deltas with revision > `revision`, oldest first (empty
  // when `revision` is the current one). OUT_OF_RANGE when the deltas after
  // `revision` are no longer (or were never) retained, including when
  // `revision` is ahead of the store.
  virtual absl::StatusOr<std::vector<v1::TrustDelta>> ChangesSince(uint64_t revision) = 0;

  // Audit records with revision > since_revision, oldest first, at most
  // `limit` of them (so a caller pages forward by passing the revision of
  // the last record it got).
  virtual absl::StatusOr<std::vector<v1::AuditRecord>> Audit(uint64_t since_revision,
                                                             size_t limit) = 0;
  // The same by position in the chain: records with seq > since_seq.
  virtual absl::StatusOr<std::vector<v1::AuditRecord>> AuditAfterSeq(uint64_t since_seq,
                                                                     size_t limit) = 0;

  // Appends one audit record outside a mutation (a refused call): its
  // revision is the current one, seq and prev_sha256 are set by the store.
  // Durable when it returns; returns the record as stored.
  virtual absl::StatusOr<v1::AuditRecord> AppendAudit(v1::AuditRecord record) = 0;
  // The last record's seq and hash.
  virtual absl::StatusOr<audit::AuditHead> GetAuditHead() = 0;
  // Stores a checkpoint; one already stored for the same seq is kept (a
  // signed checkpoint is never replaced). INVALID_ARGUMENT when its seq is
  // beyond the last record.
  virtual absl::Status AddCheckpoint(const v1::AuditCheckpoint& checkpoint) = 0;
  // The checkpoint of the highest seq (seq 0 when there is none).
  virtual absl::StatusOr<v1::AuditCheckpoint> LastCheckpoint() = 0;
  // Checkpoints with first_seq <= seq <= last_seq, by seq.
  virtual absl::StatusOr<std::vector<v1::AuditCheckpoint>> Checkpoints(uint64_t first_seq,
                                                                       uint64_t last_seq) = 0;

  // Writes request.snapshot as the state of an empty store under a new
  // generation (see RestoreRequest), with an audit record
  // "generation.restore", and returns the new generation.
  //   FAILED_PRECONDITION when the store holds a state or audit records;
  //   INVALID_ARGUMENT when the snapshot has revision 0, no trust domain,
  //     or an object twice.
  virtual absl::StatusOr<v1::Generation> Restore(const RestoreRequest& request) = 0;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_STORE_H_
