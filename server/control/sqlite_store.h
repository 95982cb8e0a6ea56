// SqliteStore: the embedded Store of a single control-plane replica.
//
// One SQLite file in WAL mode with synchronous=FULL, so a commit that
// returned is on disk. The current state is kept as one row per trust
// object (with its position, so a load reproduces the snapshot's object
// order exactly); a commit writes only the rows it changes, and loading
// 10,000 issuers and 1,000 roots is one ordered scan. The schema is
// versioned (table schema_version) and migrated forward when the store is
// opened; a file written by a newer binary is refused. A new file gets
// generation epoch 1 with a random id; Restore fills a new file from a
// backup under a higher epoch (`tfcontrol restore`). The file is locked
// for the lifetime of the store (a sidecar "<path>.lock" held with flock),
// so two control planes never serve from the same file.
//
//   SqliteStore::Options opts;
//   opts.path = "/var/lib/trustfabric/control.db";
//   opts.history_revisions = 1000;
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(opts));
//   TF_ASSIGN_OR_RETURN(StoredState state, store->Load());
#ifndef TRUSTFABRIC_SERVER_CONTROL_SQLITE_STORE_H_
#define TRUSTFABRIC_SERVER_CONTROL_SQLITE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/control/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace trustfabric::control {

class SqliteStore final : public Store {
 public:
  // The schema version this binary writes; older files are migrated to it.
  static constexpr int kSchemaVersion = 3;

  struct Options {
    // The database file; created (with its schema) when absent. Its
    // directory must exist.
    std::string path;
    // How many revisions of deltas are kept; at least 1.
    uint32_t history_revisions = 1000;
  };

  // Opens (creating and migrating as needed) and locks the file.
  //   INVALID_ARGUMENT for an empty path or history_revisions of 0;
  //   FAILED_PRECONDITION when another process holds the file, or the file
  //     has a schema newer than kSchemaVersion;
  //   DATA_LOSS when the file is not a database;
  //   UNAVAILABLE when it cannot be opened or written.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(Options options);
  ~SqliteStore() override;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  absl::StatusOr<StoredState> Load() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<uint64_t> Commit(const Mutation& mutation) override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::TrustDelta>> ChangesSince(uint64_t revision) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::AuditRecord>> Audit(uint64_t since_revision, size_t limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::AuditRecord>> AuditAfterSeq(uint64_t since_seq,
                                                             size_t limit) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::AuditRecord> AppendAudit(v1::AuditRecord record) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<audit::AuditHead> GetAuditHead() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status AddCheckpoint(const v1::AuditCheckpoint& checkpoint) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<std::vector<v1::AuditCheckpoint>> Checkpoints(uint64_t first_seq,
                                                               uint64_t last_seq) override
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::AuditCheckpoint> LastCheckpoint() override ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::Generation> Restore(const RestoreRequest& request) override
      ABSL_LOCKS_EXCLUDED(mu_);

  // The schema version of the open file (kSchemaVersion after Open).
  int schema_version() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  SqliteStore(Options options, sqlite3* db, int lock_fd);

  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CommitLocked(const Mutation& mutation, uint64_t* revision)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // trust::RequiredFeatures of the stored objects, from their keys (inside
  // the caller's transaction, so a delta records what its revision needs).
  absl::StatusOr<std::vector<std::string>> RequiredFeaturesLocked()
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<uint64_t> RevisionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertObjectLocked(sqlite3_stmt* insert, int kind, const std::string& key,
                                  const std::string& data) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Generations: one row, written when the store is created and by Restore.
  absl::StatusOr<v1::Generation> GenerationLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteGenerationLocked(const v1::Generation& generation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateGenerationIfAbsent() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The audit chain: records of schema version 2 get their prev_sha256 when
  // the store is opened; InsertAuditLocked numbers and links a new record
  // after `head` (inside the caller's transaction) and advances `head`.
  absl::Status ChainUnlinkedAudit() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<audit::AuditHead> AuditHeadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status InsertAuditLocked(v1::AuditRecord* record, audit::AuditHead* head)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<v1::AuditCheckpoint>> CheckpointsWhereLocked(const char* where,
                                                                         uint64_t first,
                                                                         uint64_t last)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::vector<v1::AuditRecord>> AuditWhereLocked(const char* condition,
                                                                uint64_t value, size_t limit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  // flock-ed "<path>.lock"; released when the process dies, however it dies.
  const int lock_fd_;

  mutable absl::Mutex mu_;
  // One connection, used by one thread at a time.
  sqlite3* const db_ ABSL_PT_GUARDED_BY(mu_);
  int schema_version_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_SQLITE_STORE_H_
