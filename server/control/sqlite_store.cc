// SQLite store; see sqlite_store.h.
#include "server/control/sqlite_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
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
  TF_ASSIGN_OR_RETURN(
      Statement insert,
      Prepare(db_,
              "INSERT INTO objects (kind, key, position, data) VALUES (?1, ?2, "
              "(SELECT COALESCE(MAX(position), 0) + 1 FROM objects WHERE kind = ?1), ?3)"));
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
      sqlite3_reset(insert.get());
      sqlite3_bind_int(insert.get(), 1, row->kind);
      BindText(insert.get(), 2, row->key);
      BindBlob(insert.get(), 3, row->data);
      if (sqlite3_step(insert.get()) != SQLITE_DONE) return Error("cannot insert object");
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
    TF_ASSIGN_OR_RETURN(
        Statement s,
        Prepare(db_,
                "INSERT INTO audit (revision, time_ns, actor, operation, object, before, after) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    for (const v1::AuditRecord& record : mutation.audit) {
      sqlite3_reset(s.get());
      sqlite3_bind_int64(s.get(), 1, static_cast<int64_t>(next));
      sqlite3_bind_int64(s.get(), 2, record.has_time() ? ToNanos(record.time()) : time_ns);
      BindText(s.get(), 3, record.actor());
      BindText(s.get(), 4, record.operation());
      BindText(s.get(), 5, record.object());
      BindText(s.get(), 6, record.before());
      BindText(s.get(), 7, record.after());
      if (sqlite3_step(s.get()) != SQLITE_DONE) return Error("cannot write audit record");
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
  absl::StatusOr<Statement> s =
      Prepare(db_,
              "SELECT revision, time_ns, actor, operation, object, before, after FROM audit "
              "WHERE revision > ? ORDER BY seq LIMIT ?");
  if (!s.ok()) return Error("cannot read audit");
  sqlite3_bind_int64(s->get(), 1, static_cast<int64_t>(since_revision));
  sqlite3_bind_int64(s->get(), 2, static_cast<int64_t>(limit));
  std::vector<v1::AuditRecord> out;
  int rc;
  while ((rc = sqlite3_step(s->get())) == SQLITE_ROW) {
    v1::AuditRecord& r = out.emplace_back();
    r.set_revision(static_cast<uint64_t>(sqlite3_column_int64(s->get(), 0)));
    *r.mutable_time() = FromNanos(sqlite3_column_int64(s->get(), 1));
    r.set_actor(ColumnText(s->get(), 2));
    r.set_operation(ColumnText(s->get(), 3));
    r.set_object(ColumnText(s->get(), 4));
    r.set_before(ColumnText(s->get(), 5));
    r.set_after(ColumnText(s->get(), 6));
  }
  if (rc != SQLITE_DONE) return Error("cannot read audit");
  return out;
}

}  // namespace trustfabric::control
