// SQLite store; see sqlite_store.h.
#include "server/control/sqlite_store.h"

#include <fcntl.h>
#include <openssl/rand.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"

namespace trustfabric::control {
namespace {

// Object kinds, in snapshot field order (roots, issuers, peers,
// revocations), so ORDER BY kind, position rebuilds the snapshot in order.
enum Kind : int { kRoot = 1, kIssuer = 2, kPeer = 3, kRevocation = 4 };

// Each migration takes the schema from version - 1 to version. Released
// migrations never change: a new schema is a new entry.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
      CREATE TABLE state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL,
        trust_domain TEXT NOT NULL,
        realm TEXT NOT NULL,
        created_at_ns INTEGER NOT NULL);
      CREATE TABLE objects (
        kind INTEGER NOT NULL,
        key TEXT NOT NULL,
        position INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (kind, key)) WITHOUT ROWID;
      CREATE TABLE history (
        revision INTEGER PRIMARY KEY,
        delta BLOB NOT NULL);
      CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        revision INTEGER NOT NULL,
        time_ns INTEGER NOT NULL,
        actor TEXT NOT NULL,
        operation TEXT NOT NULL,
        object TEXT NOT NULL,
        before TEXT NOT NULL,
        after TEXT NOT NULL);
    )sql"},
    // Appending an object looks up the last position of its kind, and audit
    // queries select by revision: both scanned whole tables in version 1.
    {2, R"sql(
      CREATE INDEX objects_by_position ON objects (kind, position);
      CREATE INDEX audit_by_revision ON audit (revision);
    )sql"},
    // Generations, and the audit log's hash chain and signed checkpoints
    // (docs/design.md §5, §6). Records of version 2 are chained when the
    // store is opened (ChainUnlinkedAudit).
    {3, R"sql(
      CREATE TABLE generation (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        epoch INTEGER NOT NULL,
        generation_id TEXT NOT NULL);
      ALTER TABLE audit ADD COLUMN result TEXT NOT NULL DEFAULT 'ok';
      ALTER TABLE audit ADD COLUMN reason TEXT NOT NULL DEFAULT '';
      ALTER TABLE audit ADD COLUMN prev_sha256 TEXT NOT NULL DEFAULT '';
      CREATE TABLE audit_checkpoints (
        seq INTEGER PRIMARY KEY,
        head_sha256 TEXT NOT NULL,
        time_ns INTEGER NOT NULL,
        signer_pem TEXT NOT NULL,
        signature TEXT NOT NULL);
    )sql"},
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteStore::kSchemaVersion,
              "one migration per schema version");

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

std::string ColumnText(sqlite3_stmt* s, int column) {
  const unsigned char* text = sqlite3_column_text(s, column);
  if (text == nullptr) return "";
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(s, column)));
}

std::string ColumnBlob(sqlite3_stmt* s, int column) {
  const void* blob = sqlite3_column_blob(s, column);
  if (blob == nullptr) return "";
  return std::string(static_cast<const char*>(blob),
                     static_cast<size_t>(sqlite3_column_bytes(s, column)));
}

void BindText(sqlite3_stmt* s, int index, const std::string& text) {
  sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

void BindBlob(sqlite3_stmt* s, int index, const std::string& blob) {
  sqlite3_bind_blob(s, index, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
}

// The row a change touches: kind, key, and for a put the serialized object.
struct Row {
  Kind kind;
  const char* field;   // the TrustChange field, for messages
  const char* object;  // what the key names, for messages
  std::string key;
  bool put = false;
  std::string data;
};

absl::StatusOr<Row> RowOf(const v1::TrustChange& change) {
  switch (change.change_case()) {
    case v1::TrustChange::kPutRoot:
      return Row{kRoot,
                 "put_root",
                 "root authority",
                 change.put_root().name(),
                 true,
                 change.put_root().SerializeAsString()};
    case v1::TrustChange::kRemoveRoot:
      return Row{kRoot, "remove_root", "root authority", change.remove_root()};
    case v1::TrustChange::kPutIssuer:
      return Row{kIssuer,  "put_issuer",
                 "issuer", change.put_issuer().name(),
                 true,     change.put_issuer().SerializeAsString()};
    case v1::TrustChange::kRemoveIssuer:
      return Row{kIssuer, "remove_issuer", "issuer", change.remove_issuer()};
    case v1::TrustChange::kPutPeer:
      return Row{kPeer,
                 "put_peer",
                 "federation peer",
                 change.put_peer().trust_domain(),
                 true,
                 change.put_peer().SerializeAsString()};
    case v1::TrustChange::kRemovePeer:
      return Row{kPeer, "remove_peer", "federation peer", change.remove_peer()};
    case v1::TrustChange::kPutRevocation:
      return Row{kRevocation,  "put_revocation",
                 "revocation", trust::RevocationKey(change.put_revocation()),
                 true,         change.put_revocation().SerializeAsString()};
    case v1::TrustChange::kRemoveRevocation:
      return Row{kRevocation, "remove_revocation", "revocation", change.remove_revocation()};
    case v1::TrustChange::CHANGE_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("no change is set");
}

// Adds one stored object to `snapshot`; false when its bytes do not parse.
bool AddObject(int kind, const std::string& data, v1::TrustSnapshot* snapshot) {
  switch (kind) {
    case kRoot:
      return snapshot->add_roots()->ParseFromString(data);
    case kIssuer:
      return snapshot->add_issuers()->ParseFromString(data);
    case kPeer:
      return snapshot->add_peers()->ParseFromString(data);
    case kRevocation:
      return snapshot->add_revocations()->ParseFromString(data);
    default:
      return false;
  }
}

std::string KeyForMessage(const std::string& key) {
  if (trust::IsValidObjectName(key) || trust::IsRevocationKey(key)) return key;
  return trust::QuoteForMessage(key);
}

int64_t ToNanos(const google::protobuf::Timestamp& t) {
  return absl::ToUnixNanos(FromProtoTime(t));
}

google::protobuf::Timestamp FromNanos(int64_t ns) { return ToProtoTime(absl::FromUnixNanos(ns)); }

constexpr char kInsertObjectSql[] =
    "INSERT INTO objects (kind, key, position, data) VALUES (?1, ?2, "
    "(SELECT COALESCE(MAX(position), 0) + 1 FROM objects WHERE kind = ?1), ?3)";

// The columns of an audit row, in the order ReadAuditRecord expects.
constexpr char kAuditColumns[] =
    "seq, revision, time_ns, actor, operation, object, before, after, result, reason, "
    "prev_sha256";

v1::AuditRecord ReadAuditRecord(sqlite3_stmt* s) {
  v1::AuditRecord r;
  r.set_seq(static_cast<uint64_t>(sqlite3_column_int64(s, 0)));
  r.set_revision(static_cast<uint64_t>(sqlite3_column_int64(s, 1)));
  *r.mutable_time() = FromNanos(sqlite3_column_int64(s, 2));
  r.set_actor(ColumnText(s, 3));
  r.set_operation(ColumnText(s, 4));
  r.set_object(ColumnText(s, 5));
  r.set_before(ColumnText(s, 6));
  r.set_after(ColumnText(s, 7));
  r.set_result(ColumnText(s, 8));
  r.set_reason(ColumnText(s, 9));
  r.set_prev_sha256(ColumnText(s, 10));
  return r;
}

// 16 random bytes in hex: a generation id.
absl::StatusOr<std::string> NewGenerationId() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::UnavailableError("generation: no random bytes available");
  }
  return pki::HexEncode(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

}  // namespace

SqliteStore::SqliteStore(Options options, sqlite3* db, int lock_fd)
    : options_(std::move(options)), lock_fd_(lock_fd), db_(db) {}

SqliteStore::~SqliteStore() {
  {
    absl::MutexLock lock(&mu_);
    sqlite3_close_v2(db_);
  }
  // Closing the descriptor releases the flock.
  close(lock_fd_);
}

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(Options options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("sqlite store: path must not be empty");
  }
  if (options.history_revisions == 0) {
    return absl::InvalidArgumentError("sqlite store: history_revisions must be at least 1");
  }
  const std::string lock_path = absl::StrCat(options.path, ".lock");
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("sqlite store ", options.path, ": cannot open lock file: ", strerror(errno)));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(lock_fd);
    if (err == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat("sqlite store ", options.path, " is in use by another process"));
    }
    return absl::UnavailableError(
        absl::StrCat("sqlite store ", options.path, ": cannot lock: ", strerror(err)));
  }

  sqlite3* db = nullptr;
  int rc =
      sqlite3_open_v2(options.path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    close(lock_fd);
    return absl::UnavailableError(
        absl::StrCat("sqlite store ", options.path, ": cannot open: ", message));
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(std::move(options), db, lock_fd));
  absl::MutexLock lock(&store->mu_);
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 5000);
  // WAL + FULL: every commit is fsynced before it returns, and readers
  // never block the writer.
  {
    sqlite3_stmt* raw = nullptr;
    rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &raw, nullptr);
    Statement s(raw);
    if (rc != SQLITE_OK) return store->Error("cannot set journal_mode");
    rc = sqlite3_step(s.get());
    if (rc != SQLITE_ROW) return store->Error("cannot set journal_mode");
    if (ColumnText(s.get(), 0) != "wal") {
      return absl::UnavailableError(absl::StrCat("sqlite store ", store->options_.path,
                                                 ": journal_mode is ", ColumnText(s.get(), 0),
                                                 ", not wal"));
    }
  }
  TF_RETURN_IF_ERROR(store->Exec("PRAGMA synchronous=FULL"));
  TF_RETURN_IF_ERROR(store->Migrate());
  TF_RETURN_IF_ERROR(store->CreateGenerationIfAbsent());
  TF_RETURN_IF_ERROR(store->ChainUnlinkedAudit());
  return store;
}

absl::Status SqliteStore::Error(absl::string_view what) const {
  const int code = sqlite3_extended_errcode(db_);
  std::string message =
      absl::StrCat("sqlite store ", options_.path, ": ", what, ": ", sqlite3_errmsg(db_));
  switch (code & 0xff) {
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::UnavailableError(message);
  }
}

absl::Status SqliteStore::Exec(const char* sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &error);
  sqlite3_free(error);
  if (rc != SQLITE_OK) return Error(sql);
  return absl::OkStatus();
}

namespace {

// Rolls back unless committed, so every early return leaves nothing behind.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  bool Begin() {
    open_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
    return open_;
  }
  bool Commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) return false;
    open_ = false;
    return true;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

// A read transaction: everything read inside sees one revision.
class ReadTransaction {
 public:
  explicit ReadTransaction(sqlite3* db)
      : db_(db), ok_(sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK) {}
  ~ReadTransaction() {
    if (ok_) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
  }
  bool ok() const { return ok_; }

 private:
  sqlite3* db_;
  bool ok_;
};

absl::StatusOr<Statement> Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &raw, nullptr) != SQLITE_OK) {
    sqlite3_finalize(raw);
    return absl::UnavailableError(absl::StrCat("prepare: ", sqlite3_errmsg(db)));
  }
  return Statement(raw);
}

}  // namespace

absl::Status SqliteStore::Migrate() {
  TF_RETURN_IF_ERROR(Exec("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"));
  int version = 0;
  {
    absl::StatusOr<Statement> s = Prepare(db_, "SELECT version FROM schema_version");
    if (!s.ok()) return Error("cannot read schema_version");
    int rc = sqlite3_step(s->get());
    if (rc == SQLITE_ROW) {
      version = sqlite3_column_int(s->get(), 0);
    } else if (rc != SQLITE_DONE) {
      return Error("cannot read schema_version");
    }
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("sqlite store ", options_.path, ": schema version ", version,
                     " is newer than this binary supports (", kSchemaVersion, ")"));
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= version) continue;
    Transaction txn(db_);
    if (!txn.Begin()) return Error("cannot begin migration");
    TF_RETURN_IF_ERROR(Exec(m.sql));
    TF_RETURN_IF_ERROR(Exec("DELETE FROM schema_version"));
    TF_ASSIGN_OR_RETURN(Statement s,
                        Prepare(db_, "INSERT INTO schema_version (version) VALUES (?)"));
    sqlite3_bind_int(s.get(), 1, m.version);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot record schema version");
    if (!txn.Commit()) return Error(absl::StrCat("cannot commit migration to ", m.version));
    version = m.version;
  }
  schema_version_ = version;
  return absl::OkStatus();
}

int SqliteStore::schema_version() const {
  absl::MutexLock lock(&mu_);
  return schema_version_;
}

absl::StatusOr<StoredState> SqliteStore::Load() {
  absl::MutexLock lock(&mu_);
  ReadTransaction read(db_);
  if (!read.ok()) return Error("cannot begin load");

  StoredState state;
  TF_ASSIGN_OR_RETURN(*state.snapshot.mutable_generation(), GenerationLocked());
  {
    absl::StatusOr<Statement> s =
        Prepare(db_, "SELECT revision, trust_domain, realm, created_at_ns FROM state");
    if (!s.ok()) return Error("cannot read state");
    int rc = sqlite3_step(s->get());
    if (rc == SQLITE_DONE) return state;
    if (rc != SQLITE_ROW) return Error("cannot read state");
    state.snapshot.set_revision(static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0)));
    state.snapshot.set_trust_domain(ColumnText(s->get(), 1));
    state.snapshot.set_realm(ColumnText(s->get(), 2));
    *state.snapshot.mutable_created_at() = FromNanos(sqlite3_column_int64(s->get(), 3));
  }
  {
    absl::StatusOr<Statement> s =
        Prepare(db_, "SELECT kind, key, data FROM objects ORDER BY kind, position");
    if (!s.ok()) return Error("cannot read objects");
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
      const int kind = sqlite3_column_int(s->get(), 0);
      if (!AddObject(kind, ColumnBlob(s->get(), 2), &state.snapshot)) {
        return absl::DataLossError(absl::StrCat("sqlite store ", options_.path, ": object ",
                                                trust::QuoteForMessage(ColumnText(s->get(), 1)),
                                                " of kind ", kind, " does not parse"));
      }
    }
    if (rc != SQLITE_DONE) return Error("cannot read objects");
  }
  // Not stored: what the objects need follows from them.
  for (std::string& feature : trust::RequiredFeatures(state.snapshot)) {
    state.snapshot.add_required_features(std::move(feature));
  }
  {
    absl::StatusOr<Statement> s =
        Prepare(db_, "SELECT revision, delta FROM history ORDER BY revision");
    if (!s.ok()) return Error("cannot read history");
    int rc;
    while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
      v1::TrustDelta delta;
      if (!delta.ParseFromString(ColumnBlob(s->get(), 1))) {
        return absl::DataLossError(
            absl::StrCat("sqlite store ", options_.path, ": history revision ",
                         sqlite3_column_int64(s->get(), 0), " does not parse"));
      }
      // Only a contiguous run that ends at the current revision is usable
      // for resuming; anything before a gap is dropped.
      if (!state.history.empty() && delta.base_revision() != state.history.back().revision()) {
        state.history.clear();
      }
      state.history.push_back(std::move(delta));
    }
    if (rc != SQLITE_DONE) return Error("cannot read history");
    if (!state.history.empty() && state.history.back().revision() != state.snapshot.revision()) {
      state.history.clear();
    }
  }
  return state;
}

absl::StatusOr<uint64_t> SqliteStore::Commit(const Mutation& mutation) {
  if (mutation.changes.empty()) {
    return absl::InvalidArgumentError("mutation: changes must not be empty");
  }
  absl::MutexLock lock(&mu_);
  uint64_t revision = 0;
  TF_RETURN_IF_ERROR(CommitLocked(mutation, &revision));
  return revision;
}

absl::Status SqliteStore::CommitLocked(const Mutation& mutation, uint64_t* revision) {
  Transaction txn(db_);
  if (!txn.Begin()) return Error("cannot begin commit");

  uint64_t current = 0;
  {
    TF_ASSIGN_OR_RETURN(Statement s,
                        Prepare(db_, "SELECT revision, trust_domain, realm FROM state"));
    int rc = sqlite3_step(s.get());
    if (rc == SQLITE_ROW) {
      current = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
      const std::string domain = ColumnText(s.get(), 1);
      const std::string realm = ColumnText(s.get(), 2);
      if (current == mutation.expected_revision &&
          (domain != mutation.trust_domain || realm != mutation.realm)) {
        return absl::FailedPreconditionError(
            absl::StrCat("sqlite store ", options_.path, " holds trust domain ", domain, " (realm ",
                         realm, "), not ", mutation.trust_domain, " (realm ", mutation.realm, ")"));
      }
    } else if (rc != SQLITE_DONE) {
      return Error("cannot read state");
    }
  }
  if (current != mutation.expected_revision) {
    return absl::AbortedError(
        absl::StrCat("expected revision ", mutation.expected_revision, ", current is ", current));
  }
  const uint64_t next = current + 1;
  const int64_t time_ns = absl::ToUnixNanos(mutation.time);

  TF_ASSIGN_OR_RETURN(Statement update,
                      Prepare(db_, "UPDATE objects SET data = ? WHERE kind = ? AND key = ?"));
  TF_ASSIGN_OR_RETURN(Statement insert, Prepare(db_, kInsertObjectSql));
  TF_ASSIGN_OR_RETURN(Statement remove,
                      Prepare(db_, "DELETE FROM objects WHERE kind = ? AND key = ?"));
  for (size_t i = 0; i < mutation.changes.size(); ++i) {
    absl::StatusOr<Row> row = RowOf(mutation.changes[i]);
    if (!row.ok()) return Annotate(row.status(), absl::StrCat("changes[", i, "]"));
    if (row->put) {
      sqlite3_reset(update.get());
      BindBlob(update.get(), 1, row->data);
      sqlite3_bind_int(update.get(), 2, row->kind);
      BindText(update.get(), 3, row->key);
      if (sqlite3_step(update.get()) != SQLITE_DONE) return Error("cannot update object");
      if (sqlite3_changes(db_) > 0) continue;
      TF_RETURN_IF_ERROR(InsertObjectLocked(insert.get(), row->kind, row->key, row->data));
    } else {
      sqlite3_reset(remove.get());
      sqlite3_bind_int(remove.get(), 1, row->kind);
      BindText(remove.get(), 2, row->key);
      if (sqlite3_step(remove.get()) != SQLITE_DONE) return Error("cannot remove object");
      if (sqlite3_changes(db_) == 0) {
        return absl::NotFoundError(absl::StrCat("changes[", i, "]: ", row->field, ": ", row->object,
                                                " ", KeyForMessage(row->key), " does not exist"));
      }
    }
  }

  {
    TF_ASSIGN_OR_RETURN(Statement s,
                        Prepare(db_,
                                "INSERT OR REPLACE INTO state (id, revision, trust_domain, realm, "
                                "created_at_ns) VALUES (1, ?, ?, ?, ?)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(next));
    BindText(s.get(), 2, mutation.trust_domain);
    BindText(s.get(), 3, mutation.realm);
    sqlite3_bind_int64(s.get(), 4, time_ns);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write state");
  }
  {
    v1::TrustDelta delta;
    delta.set_base_revision(current);
    delta.set_revision(next);
    for (const v1::TrustChange& change : mutation.changes) *delta.add_changes() = change;
    *delta.mutable_created_at() = ToProtoTime(mutation.time);
    TF_ASSIGN_OR_RETURN(std::vector<std::string> features, RequiredFeaturesLocked());
    for (std::string& feature : features) delta.add_required_features(std::move(feature));
    TF_ASSIGN_OR_RETURN(Statement s,
                        Prepare(db_, "INSERT INTO history (revision, delta) VALUES (?, ?)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(next));
    BindBlob(s.get(), 2, delta.SerializeAsString());
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write history");
  }
  if (next > options_.history_revisions) {
    TF_ASSIGN_OR_RETURN(Statement s, Prepare(db_, "DELETE FROM history WHERE revision <= ?"));
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(next - options_.history_revisions));
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot trim history");
  }
  {
    TF_ASSIGN_OR_RETURN(audit::AuditHead head, AuditHeadLocked());
    for (v1::AuditRecord record : mutation.audit) {
      record.set_revision(next);
      // As it reads back, so that the hash covers what is stored.
      *record.mutable_time() = FromNanos(record.has_time() ? ToNanos(record.time()) : time_ns);
      TF_RETURN_IF_ERROR(InsertAuditLocked(&record, &head));
    }
  }
  if (!txn.Commit()) return Error("cannot commit");
  *revision = next;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> SqliteStore::RequiredFeaturesLocked() {
  // Revocation keys name their kind (trust::RevocationKey), so the keys are
  // enough: one pass over the primary key, no object parsed.
  TF_ASSIGN_OR_RETURN(Statement s,
                      Prepare(db_,
                              "SELECT DISTINCT substr(key, 1, instr(key, ':')) FROM objects "
                              "WHERE kind = ? AND instr(key, ':') > 0"));
  sqlite3_bind_int(s.get(), 1, kRevocation);
  std::vector<std::string> features;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    absl::string_view feature = trust::FeatureOfRevocationKey(ColumnText(s.get(), 0));
    if (!feature.empty() && std::find(features.begin(), features.end(), feature) == features.end()) {
      features.emplace_back(feature);
    }
  }
  if (rc != SQLITE_DONE) return Error("cannot read revocation keys");
  std::sort(features.begin(), features.end());
  return features;
}

absl::StatusOr<std::vector<v1::TrustDelta>> SqliteStore::ChangesSince(uint64_t revision) {
  absl::MutexLock lock(&mu_);
  ReadTransaction read(db_);
  if (!read.ok()) return Error("cannot begin read");

  uint64_t current = 0;
  {
    absl::StatusOr<Statement> s = Prepare(db_, "SELECT revision FROM state");
    if (!s.ok()) return Error("cannot read state");
    int rc = sqlite3_step(s->get());
    if (rc == SQLITE_ROW) {
      current = static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0));
    } else if (rc != SQLITE_DONE) {
      return Error("cannot read state");
    }
  }
  if (revision > current) {
    return absl::OutOfRangeError(
        absl::StrCat("revision ", revision, " is ahead of the store (current is ", current, ")"));
  }
  std::vector<v1::TrustDelta> out;
  if (revision == current) return out;
  absl::StatusOr<Statement> s =
      Prepare(db_, "SELECT revision, delta FROM history WHERE revision > ? ORDER BY revision");
  if (!s.ok()) return Error("cannot read history");
  sqlite3_bind_int64(s->get(), 1, static_cast<int64_t>(revision));
  int rc;
  uint64_t expected_base = revision;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    v1::TrustDelta& delta = out.emplace_back();
    if (!delta.ParseFromString(ColumnBlob(s->get(), 1))) {
      return absl::DataLossError(absl::StrCat("sqlite store ", options_.path, ": history revision ",
                                              sqlite3_column_int64(s->get(), 0),
                                              " does not parse"));
    }
    if (delta.base_revision() != expected_base) {
      return absl::OutOfRangeError(
          absl::StrCat("revision ", revision, " is older than the retained history"));
    }
    expected_base = delta.revision();
  }
  if (rc != SQLITE_DONE) return Error("cannot read history");
  if (expected_base != current) {
    return absl::OutOfRangeError(
        absl::StrCat("revision ", revision, " is older than the retained history"));
  }
  return out;
}

absl::StatusOr<std::vector<v1::AuditRecord>> SqliteStore::Audit(uint64_t since_revision,
                                                                size_t limit) {
  absl::MutexLock lock(&mu_);
  return AuditWhereLocked("revision > ?", since_revision, limit);
}

absl::StatusOr<std::vector<v1::AuditRecord>> SqliteStore::AuditAfterSeq(uint64_t since_seq,
                                                                        size_t limit) {
  absl::MutexLock lock(&mu_);
  return AuditWhereLocked("seq > ?", since_seq, limit);
}

absl::StatusOr<std::vector<v1::AuditRecord>> SqliteStore::AuditWhereLocked(const char* condition,
                                                                           uint64_t value,
                                                                           size_t limit) {
  const std::string sql =
      absl::StrCat("SELECT ", kAuditColumns, " FROM audit WHERE ", condition, " ORDER BY seq LIMIT ?");
  absl::StatusOr<Statement> s = Prepare(db_, sql.c_str());
  if (!s.ok()) return Error("cannot read audit");
  sqlite3_bind_int64(s->get(), 1, static_cast<int64_t>(value));
  sqlite3_bind_int64(s->get(), 2, static_cast<int64_t>(limit));
  std::vector<v1::AuditRecord> out;
  int rc;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) out.push_back(ReadAuditRecord(s->get()));
  if (rc != SQLITE_DONE) return Error("cannot read audit");
  return out;
}

absl::StatusOr<audit::AuditHead> SqliteStore::AuditHeadLocked() {
  const std::string sql =
      absl::StrCat("SELECT ", kAuditColumns, " FROM audit ORDER BY seq DESC LIMIT 1");
  absl::StatusOr<Statement> s = Prepare(db_, sql.c_str());
  if (!s.ok()) return Error("cannot read audit");
  audit::AuditHead head;
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) {
    const v1::AuditRecord last = ReadAuditRecord(s->get());
    head.seq = last.seq();
    head.sha256 = audit::AuditRecordSha256(last);
  } else if (rc != SQLITE_DONE) {
    return Error("cannot read audit");
  }
  return head;
}

absl::Status SqliteStore::InsertAuditLocked(v1::AuditRecord* record, audit::AuditHead* head) {
  record->set_seq(head->seq + 1);
  record->set_prev_sha256(head->sha256);
  if (record->result().empty()) record->set_result("ok");
  TF_ASSIGN_OR_RETURN(
      Statement s,
      Prepare(db_, absl::StrCat("INSERT INTO audit (", kAuditColumns,
                                ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                       .c_str()));
  sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(record->seq()));
  sqlite3_bind_int64(s.get(), 2, static_cast<int64_t>(record->revision()));
  sqlite3_bind_int64(s.get(), 3, ToNanos(record->time()));
  int column = 4;
  for (const std::string* text :
       {&record->actor(), &record->operation(), &record->object(), &record->before(),
        &record->after(), &record->result(), &record->reason(), &record->prev_sha256()}) {
    BindText(s.get(), column++, *text);
  }
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write audit record");
  head->seq = record->seq();
  head->sha256 = audit::AuditRecordSha256(*record);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SqliteStore::RevisionLocked() {
  absl::StatusOr<Statement> s = Prepare(db_, "SELECT revision FROM state");
  if (!s.ok()) return Error("cannot read state");
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) return static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0));
  if (rc != SQLITE_DONE) return Error("cannot read state");
  return 0;
}

absl::StatusOr<v1::AuditRecord> SqliteStore::AppendAudit(v1::AuditRecord record) {
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.Begin()) return Error("cannot begin audit append");
  TF_ASSIGN_OR_RETURN(const uint64_t revision, RevisionLocked());
  record.set_revision(revision);
  *record.mutable_time() = FromNanos(ToNanos(record.time()));
  TF_ASSIGN_OR_RETURN(audit::AuditHead head, AuditHeadLocked());
  TF_RETURN_IF_ERROR(InsertAuditLocked(&record, &head));
  if (!txn.Commit()) return Error("cannot commit audit record");
  return record;
}

absl::StatusOr<audit::AuditHead> SqliteStore::GetAuditHead() {
  absl::MutexLock lock(&mu_);
  return AuditHeadLocked();
}

absl::Status SqliteStore::AddCheckpoint(const v1::AuditCheckpoint& checkpoint) {
  absl::MutexLock lock(&mu_);
  TF_ASSIGN_OR_RETURN(const audit::AuditHead head, AuditHeadLocked());
  if (checkpoint.seq() == 0 || checkpoint.seq() > head.seq) {
    return absl::InvalidArgumentError(absl::StrCat("checkpoint: seq ", checkpoint.seq(),
                                                   " is not a record (the log ends at seq ",
                                                   head.seq, ")"));
  }
  TF_ASSIGN_OR_RETURN(Statement s,
                      Prepare(db_,
                              "INSERT OR IGNORE INTO audit_checkpoints (seq, head_sha256, "
                              "time_ns, signer_pem, signature) VALUES (?, ?, ?, ?, ?)"));
  sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(checkpoint.seq()));
  BindText(s.get(), 2, checkpoint.head_sha256());
  sqlite3_bind_int64(s.get(), 3, ToNanos(checkpoint.time()));
  BindText(s.get(), 4, checkpoint.signer_certificate_pem());
  BindText(s.get(), 5, checkpoint.signature());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write checkpoint");
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::AuditCheckpoint>> SqliteStore::Checkpoints(uint64_t first_seq,
                                                                          uint64_t last_seq) {
  absl::MutexLock lock(&mu_);
  return CheckpointsWhereLocked("seq >= ? AND seq <= ? ORDER BY seq", first_seq, last_seq);
}

absl::StatusOr<v1::AuditCheckpoint> SqliteStore::LastCheckpoint() {
  absl::MutexLock lock(&mu_);
  TF_ASSIGN_OR_RETURN(std::vector<v1::AuditCheckpoint> last,
                      CheckpointsWhereLocked("seq >= ? AND seq <= ? ORDER BY seq DESC LIMIT 1", 0,
                                             static_cast<uint64_t>(INT64_MAX)));
  return last.empty() ? v1::AuditCheckpoint() : std::move(last.front());
}

absl::StatusOr<std::vector<v1::AuditCheckpoint>> SqliteStore::CheckpointsWhereLocked(
    const char* where, uint64_t first, uint64_t last) {
  const std::string sql = absl::StrCat(
      "SELECT seq, head_sha256, time_ns, signer_pem, signature FROM audit_checkpoints WHERE ",
      where);
  absl::StatusOr<Statement> s = Prepare(db_, sql.c_str());
  if (!s.ok()) return Error("cannot read checkpoints");
  sqlite3_bind_int64(s->get(), 1, static_cast<int64_t>(first));
  sqlite3_bind_int64(s->get(), 2, static_cast<int64_t>(last));
  std::vector<v1::AuditCheckpoint> out;
  int rc;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    v1::AuditCheckpoint& c = out.emplace_back();
    c.set_seq(static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0)));
    c.set_head_sha256(ColumnText(s->get(), 1));
    *c.mutable_time() = FromNanos(sqlite3_column_int64(s->get(), 2));
    c.set_signer_certificate_pem(ColumnText(s->get(), 3));
    c.set_signature(ColumnText(s->get(), 4));
  }
  if (rc != SQLITE_DONE) return Error("cannot read checkpoints");
  return out;
}

absl::StatusOr<v1::Generation> SqliteStore::GenerationLocked() {
  absl::StatusOr<Statement> s = Prepare(db_, "SELECT epoch, generation_id FROM generation");
  if (!s.ok()) return Error("cannot read generation");
  v1::Generation generation;
  const int rc = sqlite3_step(s->get());
  if (rc == SQLITE_ROW) {
    generation.set_epoch(static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0)));
    generation.set_id(ColumnText(s->get(), 1));
  } else if (rc != SQLITE_DONE) {
    return Error("cannot read generation");
  }
  return generation;
}

absl::Status SqliteStore::WriteGenerationLocked(const v1::Generation& generation) {
  TF_ASSIGN_OR_RETURN(Statement s,
                      Prepare(db_,
                              "INSERT OR REPLACE INTO generation (id, epoch, generation_id) "
                              "VALUES (1, ?, ?)"));
  sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(generation.epoch()));
  BindText(s.get(), 2, generation.id());
  if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write generation");
  return absl::OkStatus();
}

absl::Status SqliteStore::CreateGenerationIfAbsent() {
  TF_ASSIGN_OR_RETURN(const v1::Generation current, GenerationLocked());
  if (current.epoch() != 0) return absl::OkStatus();
  v1::Generation generation;
  generation.set_epoch(1);
  TF_ASSIGN_OR_RETURN(*generation.mutable_id(), NewGenerationId());
  return WriteGenerationLocked(generation);
}

absl::Status SqliteStore::ChainUnlinkedAudit() {
  {
    // Usually none: a scan without hashing.
    absl::StatusOr<Statement> any =
        Prepare(db_, "SELECT 1 FROM audit WHERE prev_sha256 = '' LIMIT 1");
    if (!any.ok()) return Error("cannot read audit");
    const int rc = sqlite3_step(any->get());
    if (rc == SQLITE_DONE) return absl::OkStatus();
    if (rc != SQLITE_ROW) return Error("cannot read audit");
  }
  Transaction txn(db_);
  if (!txn.Begin()) return Error("cannot begin chaining the audit log");
  const std::string sql = absl::StrCat("SELECT ", kAuditColumns, " FROM audit ORDER BY seq");
  absl::StatusOr<Statement> s = Prepare(db_, sql.c_str());
  if (!s.ok()) return Error("cannot read audit");
  TF_ASSIGN_OR_RETURN(Statement update,
                      Prepare(db_, "UPDATE audit SET prev_sha256 = ? WHERE seq = ?"));
  std::string previous = audit::kAuditGenesisSha256;
  uint64_t linked = 0;
  int rc;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    v1::AuditRecord record = ReadAuditRecord(s->get());
    if (record.prev_sha256().empty()) {
      record.set_prev_sha256(previous);
      sqlite3_reset(update.get());
      BindText(update.get(), 1, previous);
      sqlite3_bind_int64(update.get(), 2, static_cast<int64_t>(record.seq()));
      if (sqlite3_step(update.get()) != SQLITE_DONE) return Error("cannot chain audit record");
      ++linked;
    }
    previous = audit::AuditRecordSha256(record);
  }
  if (rc != SQLITE_DONE) return Error("cannot read audit");
  if (linked == 0) return absl::OkStatus();
  if (!txn.Commit()) return Error("cannot commit the audit chain");
  return absl::OkStatus();
}

absl::StatusOr<v1::Generation> SqliteStore::Restore(const RestoreRequest& request) {
  const v1::TrustSnapshot& snapshot = request.snapshot;
  if (snapshot.revision() == 0 || snapshot.trust_domain().empty()) {
    return absl::InvalidArgumentError(
        "snapshot: a backup has a revision and a trust domain (revision 0 is no state)");
  }
  absl::MutexLock lock(&mu_);
  Transaction txn(db_);
  if (!txn.Begin()) return Error("cannot begin restore");
  TF_ASSIGN_OR_RETURN(const uint64_t current, RevisionLocked());
  TF_ASSIGN_OR_RETURN(const audit::AuditHead head, AuditHeadLocked());
  if (current != 0 || head.seq != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sqlite store ", options_.path, " is not empty (revision ", current, ", ", head.seq,
        " audit records): restore only into a new store"));
  }
  std::vector<v1::TrustChange> puts;
  for (const v1::RootAuthority& o : snapshot.roots()) *puts.emplace_back().mutable_put_root() = o;
  for (const v1::TokenIssuer& o : snapshot.issuers()) *puts.emplace_back().mutable_put_issuer() = o;
  for (const v1::FederationPeer& o : snapshot.peers()) *puts.emplace_back().mutable_put_peer() = o;
  for (const v1::Revocation& o : snapshot.revocations()) {
    *puts.emplace_back().mutable_put_revocation() = o;
  }
  TF_ASSIGN_OR_RETURN(Statement insert, Prepare(db_, kInsertObjectSql));
  for (const v1::TrustChange& change : puts) {
    TF_ASSIGN_OR_RETURN(const Row row, RowOf(change));
    if (absl::Status inserted = InsertObjectLocked(insert.get(), row.kind, row.key, row.data);
        !inserted.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("snapshot: ", row.object, " ",
                                                     KeyForMessage(row.key),
                                                     " cannot be restored: ", inserted.message()));
    }
  }
  const absl::Time created =
      snapshot.has_created_at() ? FromProtoTime(snapshot.created_at()) : request.time;
  {
    TF_ASSIGN_OR_RETURN(Statement s,
                        Prepare(db_,
                                "INSERT INTO state (id, revision, trust_domain, realm, "
                                "created_at_ns) VALUES (1, ?, ?, ?, ?)"));
    sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(snapshot.revision()));
    BindText(s.get(), 2, snapshot.trust_domain());
    BindText(s.get(), 3, snapshot.realm());
    sqlite3_bind_int64(s.get(), 4, absl::ToUnixNanos(created));
    if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write state");
  }
  // Above every epoch the backup's store could have reached: a store with
  // generations starts at epoch 1.
  v1::Generation generation;
  generation.set_epoch(std::max<uint64_t>({snapshot.generation().epoch(), 1}) + 1);
  if (request.min_epoch > generation.epoch()) generation.set_epoch(request.min_epoch);
  TF_ASSIGN_OR_RETURN(*generation.mutable_id(), NewGenerationId());
  TF_RETURN_IF_ERROR(WriteGenerationLocked(generation));

  v1::AuditRecord record;
  record.set_revision(snapshot.revision());
  *record.mutable_time() = FromNanos(absl::ToUnixNanos(request.time));
  record.set_actor(request.actor);
  record.set_operation("generation.restore");
  record.set_object(snapshot.trust_domain());
  record.set_before(absl::StrCat("backup generation epoch=", snapshot.generation().epoch(),
                                 " id=", trust::QuoteForMessage(snapshot.generation().id()),
                                 " revision=", snapshot.revision()));
  record.set_after(absl::StrCat("generation epoch=", generation.epoch(), " id=", generation.id(),
                                " revision=", snapshot.revision(), " roots=",
                                snapshot.roots_size(), " issuers=", snapshot.issuers_size(),
                                " peers=", snapshot.peers_size(),
                                " revocations=", snapshot.revocations_size()));
  audit::AuditHead chain = head;
  TF_RETURN_IF_ERROR(InsertAuditLocked(&record, &chain));
  if (!txn.Commit()) return Error("cannot commit restore");
  return generation;
}

absl::Status SqliteStore::InsertObjectLocked(sqlite3_stmt* insert, int kind, const std::string& key,
                                             const std::string& data) {
  sqlite3_reset(insert);
  sqlite3_bind_int(insert, 1, kind);
  BindText(insert, 2, key);
  BindBlob(insert, 3, data);
  if (sqlite3_step(insert) != SQLITE_DONE) return Error("cannot insert object");
  return absl::OkStatus();
}

}  // namespace trustfabric::control
