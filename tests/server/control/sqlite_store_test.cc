// SqliteStore: commits, compare-and-swap, history trimming, durability
// across reopen, audit paging, schema migrations and file locking;
// generations and restore; the audit chain and its checkpoints.
#include "server/control/sqlite_store.h"

#include <sqlite3.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/time/proto_time.h"
#include "common/trust/delta.h"
#include "common/trust/snapshot.h"
#include "gmock/gmock.h"
#include "common/audit/audit_chain.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

constexpr char kDomain[] = "contoso.test";
constexpr char kRealm[] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
const absl::Time kT0 = absl::FromUnixSeconds(1700000000) + absl::Nanoseconds(123456789);

v1::TrustChange PutRoot(const std::string& name, const std::string& pem = "pem") {
  v1::TrustChange c;
  c.mutable_put_root()->set_name(name);
  c.mutable_put_root()->set_trust_domain(kDomain);
  c.mutable_put_root()->set_certificates_pem(pem);
  return c;
}

v1::TrustChange RemoveRoot(const std::string& name) {
  v1::TrustChange c;
  c.set_remove_root(name);
  return c;
}

v1::TrustChange PutRevocation(int i) {
  v1::TrustChange c;
  c.mutable_put_revocation()->set_sha256_hex(absl::StrCat("sha-", i));
  c.mutable_put_revocation()->set_reason("test");
  return c;
}

v1::TrustChange RemoveRevocation(const std::string& key) {
  v1::TrustChange c;
  c.set_remove_revocation(key);
  return c;
}

v1::TrustChange PutIssuer(const std::string& name) {
  v1::TrustChange c;
  c.mutable_put_issuer()->set_name(name);
  return c;
}

v1::TrustChange PutPeer(const std::string& domain, bool enabled) {
  v1::TrustChange c;
  c.mutable_put_peer()->set_trust_domain(domain);
  c.mutable_put_peer()->set_enabled(enabled);
  return c;
}

Mutation Make(uint64_t expected, std::vector<v1::TrustChange> changes,
              const std::string& actor = "spiffe://contoso.test/admin/alice") {
  Mutation m;
  m.expected_revision = expected;
  m.trust_domain = kDomain;
  m.realm = kRealm;
  m.changes = std::move(changes);
  m.time = kT0 + absl::Seconds(static_cast<int64_t>(expected));
  v1::AuditRecord& r = m.audit.emplace_back();
  r.set_actor(actor);
  r.set_operation("test.op");
  r.set_object(absl::StrCat("object-", expected));
  r.set_after("after");
  return m;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string Path() const { return dir_.path() + "/control.db"; }

  // The names of the roots of a loaded state, in order.
  static std::vector<std::string> RootNames(const StoredState& state) {
    std::vector<std::string> names;
    for (const v1::RootAuthority& root : state.snapshot.roots()) names.push_back(root.name());
    return names;
  }
  std::unique_ptr<SqliteStore> Open(uint32_t history = 1000) {
    SqliteStore::Options opts;
    opts.path = Path();
    opts.history_revisions = history;
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(opts);
    EXPECT_THAT(store, IsOk());
    return store.ok() ? *std::move(store) : nullptr;
  }

  // Raw SQL against the file, outside the store.
  void Sql(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(db);
  }

  std::string SqlValue(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(Path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr), SQLITE_OK);
    std::string out;
    if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
      out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    return out;
  }

  testing::TempDir dir_;
};

TEST_F(SqliteStoreTest, EmptyStoreLoadsRevisionZero) {
  auto store = Open();
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 0u);
  EXPECT_EQ(state->snapshot.trust_domain(), "");
  EXPECT_THAT(state->history, SizeIs(0));
  EXPECT_EQ(store->schema_version(), SqliteStore::kSchemaVersion);
}

TEST_F(SqliteStoreTest, FileIsInWalMode) {
  Open();
  EXPECT_EQ(SqlValue("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, CommitsAssignConsecutiveRevisionsAndLoadReproducesObjectOrder) {
  auto store = Open();
  const std::vector<std::vector<v1::TrustChange>> mutations = {
      {PutRoot("a"), PutRoot("b"), PutRoot("c")},
      {PutIssuer("hr"), PutPeer("fabrikam.test", true), PutRevocation(1)},
      // Replaced in place; removed and put again moves to the end.
      {PutRoot("b", "pem2"), RemoveRoot("a"), PutRoot("a", "pem3")},
      {PutPeer("fabrikam.test", false), PutRevocation(2)},
  };
  v1::TrustSnapshot expected;
  expected.set_trust_domain(kDomain);
  expected.set_realm(kRealm);
  for (size_t i = 0; i < mutations.size(); ++i) {
    absl::StatusOr<uint64_t> revision = store->Commit(Make(i, mutations[i]));
    ASSERT_THAT(revision, IsOk());
    EXPECT_EQ(*revision, i + 1);
    absl::StatusOr<v1::TrustSnapshot> next = trust::ApplyChanges(expected, mutations[i]);
    ASSERT_THAT(next, IsOk());
    expected = *next;
  }
  expected.set_revision(4);
  *expected.mutable_created_at() = ToProtoTime(kT0 + absl::Seconds(3));

  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  // The store's generation, created with it.
  EXPECT_EQ(state->snapshot.generation().epoch(), 1u);
  EXPECT_EQ(state->snapshot.generation().id().size(), 32u);
  *expected.mutable_generation() = state->snapshot.generation();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(state->snapshot, expected))
      << "loaded:\n"
      << state->snapshot.DebugString() << "\nexpected:\n"
      << expected.DebugString();
  ASSERT_THAT(state->history, SizeIs(4));
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(state->history[i].base_revision(), i);
    EXPECT_EQ(state->history[i].revision(), i + 1);
    EXPECT_EQ(state->history[i].changes_size(), static_cast<int>(mutations[i].size()));
  }
}

TEST_F(SqliteStoreTest, StaleExpectedRevisionIsAbortedAndChangesNothing) {
  auto store = Open();
  ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
  ASSERT_THAT(store->Commit(Make(1, {PutRoot("b")})), IsOk());
  EXPECT_THAT(store->Commit(Make(1, {PutRoot("c")})),
              StatusIs(absl::StatusCode::kAborted, "expected revision 1, current is 2"));
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 2u);
  EXPECT_EQ(state->snapshot.roots_size(), 2);
  absl::StatusOr<std::vector<v1::AuditRecord>> audit = store->Audit(0, 100);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(*audit, SizeIs(2));
}

TEST_F(SqliteStoreTest, RemovingAnAbsentKeyRollsBackTheWholeCommit) {
  auto store = Open();
  ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
  EXPECT_THAT(store->Commit(Make(1, {PutRoot("b"), RemoveRoot("zzz")})),
              StatusIs(absl::StatusCode::kNotFound,
                       "changes[1]: remove_root: root authority zzz does not exist"));
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 1u);
  EXPECT_THAT(RootNames(*state), ElementsAre("a"));
  EXPECT_THAT(state->history, SizeIs(1));
  absl::StatusOr<std::vector<v1::AuditRecord>> audit = store->Audit(0, 100);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(*audit, SizeIs(1));
}

TEST_F(SqliteStoreTest, EmptyOrUnsetChangesAreInvalid) {
  auto store = Open();
  EXPECT_THAT(store->Commit(Make(0, {})),
              StatusIs(absl::StatusCode::kInvalidArgument, "mutation: changes must not be empty"));
  EXPECT_THAT(store->Commit(Make(0, {v1::TrustChange()})),
              StatusIs(absl::StatusCode::kInvalidArgument, "changes[0]: no change is set"));
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 0u);
}

TEST_F(SqliteStoreTest, AnotherDomainIsRefused) {
  auto store = Open();
  ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
  Mutation m = Make(1, {PutRoot("b")});
  m.trust_domain = "fabrikam.test";
  EXPECT_THAT(store->Commit(m),
              StatusIs(absl::StatusCode::kFailedPrecondition, "holds trust domain contoso.test"));
}

TEST_F(SqliteStoreTest, HistoryIsTrimmedToTheConfiguredLength) {
  auto store = Open(/*history=*/3);
  for (uint64_t i = 0; i < 6; ++i) {
    ASSERT_THAT(store->Commit(Make(i, {PutRevocation(static_cast<int>(i))})), IsOk());
  }
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  ASSERT_THAT(state->history, SizeIs(3));
  EXPECT_EQ(state->history.front().base_revision(), 3u);
  EXPECT_EQ(state->history.back().revision(), 6u);
  EXPECT_EQ(SqlValue("SELECT COUNT(*) FROM history"), "3");

  absl::StatusOr<std::vector<v1::TrustDelta>> since = store->ChangesSince(3);
  ASSERT_THAT(since, IsOk());
  ASSERT_THAT(*since, SizeIs(3));
  EXPECT_EQ((*since)[0].changes(0).put_revocation().sha256_hex(), "sha-3");
  since = store->ChangesSince(5);
  ASSERT_THAT(since, IsOk());
  EXPECT_THAT(*since, SizeIs(1));
  since = store->ChangesSince(6);
  ASSERT_THAT(since, IsOk());
  EXPECT_THAT(*since, SizeIs(0));
  EXPECT_THAT(store->ChangesSince(2), StatusIs(absl::StatusCode::kOutOfRange,
                                               "revision 2 is older than the retained history"));
  EXPECT_THAT(store->ChangesSince(7),
              StatusIs(absl::StatusCode::kOutOfRange, "revision 7 is ahead of the store"));
}

TEST_F(SqliteStoreTest, StateHistoryAndAuditSurviveReopen) {
  {
    auto store = Open();
    ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
    ASSERT_THAT(store->Commit(Make(1, {PutRevocation(7)})), IsOk());
  }
  auto store = Open();
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 2u);
  EXPECT_EQ(state->snapshot.trust_domain(), kDomain);
  EXPECT_EQ(state->snapshot.realm(), kRealm);
  EXPECT_EQ(FromProtoTime(state->snapshot.created_at()), kT0 + absl::Seconds(1));
  EXPECT_EQ(state->snapshot.roots_size(), 1);
  EXPECT_EQ(state->snapshot.revocations(0).sha256_hex(), "sha-7");
  EXPECT_THAT(state->history, SizeIs(2));
  ASSERT_THAT(store->Commit(Make(2, {RemoveRoot("a")})), IsOk());
}

TEST_F(SqliteStoreTest, AuditRecordsCarryTheirRevisionAndPageForward) {
  auto store = Open();
  for (uint64_t i = 0; i < 5; ++i) {
    ASSERT_THAT(store->Commit(Make(i, {PutRevocation(static_cast<int>(i))})), IsOk());
  }
  absl::StatusOr<std::vector<v1::AuditRecord>> page = store->Audit(0, 2);
  ASSERT_THAT(page, IsOk());
  ASSERT_THAT(*page, SizeIs(2));
  EXPECT_EQ((*page)[0].revision(), 1u);
  EXPECT_EQ((*page)[0].actor(), "spiffe://contoso.test/admin/alice");
  EXPECT_EQ((*page)[0].operation(), "test.op");
  EXPECT_EQ((*page)[0].object(), "object-0");
  EXPECT_EQ((*page)[0].after(), "after");
  EXPECT_EQ(FromProtoTime((*page)[0].time()), kT0);
  page = store->Audit((*page)[1].revision(), 10);
  ASSERT_THAT(page, IsOk());
  std::vector<uint64_t> revisions;
  for (const v1::AuditRecord& r : *page) revisions.push_back(r.revision());
  EXPECT_THAT(revisions, ElementsAre(3u, 4u, 5u));
}

TEST_F(SqliteStoreTest, AVersionOneFileIsMigratedWithItsData) {
  // The version 1 schema as released.
  Sql(R"sql(
    CREATE TABLE schema_version (version INTEGER NOT NULL);
    INSERT INTO schema_version VALUES (1);
    CREATE TABLE state (id INTEGER PRIMARY KEY CHECK (id = 1), revision INTEGER NOT NULL,
      trust_domain TEXT NOT NULL, realm TEXT NOT NULL, created_at_ns INTEGER NOT NULL);
    CREATE TABLE objects (kind INTEGER NOT NULL, key TEXT NOT NULL, position INTEGER NOT NULL,
      data BLOB NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID;
    CREATE TABLE history (revision INTEGER PRIMARY KEY, delta BLOB NOT NULL);
    CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, revision INTEGER NOT NULL,
      time_ns INTEGER NOT NULL, actor TEXT NOT NULL, operation TEXT NOT NULL,
      object TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL);
  )sql");
  v1::RootAuthority root;
  root.set_name("old-root");
  std::string hex;
  for (unsigned char ch : root.SerializeAsString())
    absl::StrAppend(&hex, absl::Hex(ch, absl::kZeroPad2));
  Sql(absl::StrCat("INSERT INTO state VALUES (1, 4, '", kDomain, "', '", kRealm,
                   "', 0); INSERT INTO objects VALUES (1, 'old-root', 1, x'", hex,
                   "'); INSERT INTO audit (revision, time_ns, actor, operation, object, before, "
                   "after) VALUES (4, 0, 'bootstrap', 'root.add', 'old-root', '', '');"));

  auto store = Open();
  EXPECT_EQ(store->schema_version(), 3);
  EXPECT_EQ(SqlValue("SELECT version FROM schema_version"), "3");
  EXPECT_EQ(SqlValue("SELECT name FROM sqlite_master WHERE name = 'audit_by_revision'"),
            "audit_by_revision");
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 4u);
  EXPECT_THAT(RootNames(*state), ElementsAre("old-root"));
  // No history was retained, so nothing is resumable, but commits continue.
  EXPECT_THAT(state->history, SizeIs(0));
  ASSERT_THAT(store->Commit(Make(4, {PutRoot("new-root")})), IsOk());
  absl::StatusOr<std::vector<v1::AuditRecord>> audit = store->Audit(0, 10);
  ASSERT_THAT(audit, IsOk());
  EXPECT_THAT(*audit, SizeIs(2));
  // The old record was chained when the store was opened, the new one after it.
  EXPECT_THAT(audit::VerifyAuditChain(*audit, {}, {kDomain, nullptr}), IsOk());
  EXPECT_EQ(state->snapshot.generation().epoch(), 1u);
}

TEST_F(SqliteStoreTest, AFileFromANewerBinaryIsRefused) {
  Sql("CREATE TABLE schema_version (version INTEGER NOT NULL); "
      "INSERT INTO schema_version VALUES (99);");
  SqliteStore::Options opts;
  opts.path = Path();
  EXPECT_THAT(SqliteStore::Open(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "schema version 99 is newer than this binary supports (3)"));
}

TEST_F(SqliteStoreTest, ASecondOpenOfTheSameFileIsRefused) {
  auto store = Open();
  SqliteStore::Options opts;
  opts.path = Path();
  EXPECT_THAT(SqliteStore::Open(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition, "is in use by another process"));
  store.reset();
  EXPECT_THAT(SqliteStore::Open(opts), IsOk());
}

TEST_F(SqliteStoreTest, AFileThatIsNotADatabaseIsDataLoss) {
  dir_.Write("control.db", std::string(4096, 'x'));
  SqliteStore::Options opts;
  opts.path = Path();
  EXPECT_THAT(SqliteStore::Open(opts), StatusIs(absl::StatusCode::kDataLoss, "not a database"));
}

TEST_F(SqliteStoreTest, BadOptionsAreInvalid) {
  EXPECT_THAT(SqliteStore::Open({}),
              StatusIs(absl::StatusCode::kInvalidArgument, "path must not be empty"));
  SqliteStore::Options opts;
  opts.path = Path();
  opts.history_revisions = 0;
  EXPECT_THAT(SqliteStore::Open(opts),
              StatusIs(absl::StatusCode::kInvalidArgument, "history_revisions must be at least 1"));
}

v1::TrustChange PutKindRevocation(v1::RevocationKind kind, char fill) {
  v1::TrustChange c;
  v1::Revocation* r = c.mutable_put_revocation();
  r->set_kind(kind);
  const std::string hash(64, fill);
  if (kind == v1::REVOCATION_CERTIFICATE) r->set_tbs_sha256_hex(hash);
  if (kind == v1::REVOCATION_KEY) r->set_spki_sha256_hex(hash);
  if (kind == v1::REVOCATION_ISSUER_SERIAL) {
    r->set_issuer_spki_sha256_hex(hash);
    r->set_serial_hex("1f");
  }
  return c;
}

std::vector<std::string> Features(const google::protobuf::RepeatedPtrField<std::string>& f) {
  return {f.begin(), f.end()};
}

TEST_F(SqliteStoreTest, RevocationsAreKeyedByKindAndLoadAndHistoryCarryRequiredFeatures) {
  auto store = Open();
  ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
  ASSERT_THAT(store->Commit(Make(1, {PutKindRevocation(v1::REVOCATION_KEY, 'b')})), IsOk());
  ASSERT_THAT(store->Commit(Make(2, {PutKindRevocation(v1::REVOCATION_CERTIFICATE, 'c'),
                                     PutKindRevocation(v1::REVOCATION_ISSUER_SERIAL, 'd')})),
              IsOk());
  ASSERT_THAT(store->Commit(Make(3, {PutKindRevocation(v1::REVOCATION_KEY, 'b')})), IsOk());
  EXPECT_EQ(SqlValue("SELECT group_concat(key, ' ') FROM (SELECT key FROM objects WHERE kind = 4 "
                     "ORDER BY position)"),
            absl::StrCat("key:", std::string(64, 'b'), " certificate:", std::string(64, 'c'),
                         " serial:", std::string(64, 'd'), ":1f"));
  ASSERT_THAT(store->Commit(Make(4, {RemoveRevocation("key:" + std::string(64, 'b'))})), IsOk());

  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revocations_size(), 2);
  EXPECT_THAT(Features(state->snapshot.required_features()),
              ElementsAre("revocation.certificate", "revocation.issuer_serial"));
  ASSERT_THAT(state->history, SizeIs(5));
  EXPECT_THAT(Features(state->history[0].required_features()), SizeIs(0));
  EXPECT_THAT(Features(state->history[1].required_features()), ElementsAre("revocation.key"));
  EXPECT_THAT(Features(state->history[2].required_features()),
              ElementsAre("revocation.certificate", "revocation.issuer_serial", "revocation.key"));
  EXPECT_THAT(Features(state->history[4].required_features()),
              ElementsAre("revocation.certificate", "revocation.issuer_serial"));
  // What a node applying the stored history would hold is what Load holds.
  v1::TrustSnapshot replayed;
  replayed.set_trust_domain(kDomain);
  replayed.set_realm(kRealm);
  for (const v1::TrustDelta& delta : state->history) {
    absl::StatusOr<v1::TrustSnapshot> next = trust::ApplyDelta(replayed, delta);
    ASSERT_THAT(next, IsOk());
    replayed = *next;
  }
  // Deltas of one store are of its generation.
  *replayed.mutable_generation() = state->snapshot.generation();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(replayed, state->snapshot))
      << replayed.DebugString() << "\nloaded:\n" << state->snapshot.DebugString();
}

// Rows written before revocation kinds existed: keyed by the DER hash, the
// object holding only sha256_hex. They load as DER-only revocations, need
// no feature, and are removed by the same key.
TEST_F(SqliteStoreTest, LegacyDerOnlyRowsKeepLoadingAndMatching) {
  testing::TestDomain contoso(kDomain);
  const pki::Certificate& leaf_ca = contoso.intermediate().certificate;
  Open();  // creates the schema
  v1::Revocation legacy;
  legacy.set_sha256_hex(leaf_ca.Sha256Hex());
  legacy.set_reason("key compromise");
  v1::RootAuthority root;
  root.set_name("contoso-root");
  root.set_trust_domain(kDomain);
  root.set_certificates_pem(contoso.RootPem());
  root.add_purposes(v1::MTLS);
  Sql(absl::StrCat("INSERT INTO state (id, revision, trust_domain, realm, created_at_ns) VALUES "
                   "(1, 2, '", kDomain, "', '", kRealm, "', 0)"));
  Sql(absl::StrCat("INSERT INTO objects (kind, key, position, data) VALUES (1, 'contoso-root', 1, "
                   "X'", pki::HexEncode(root.SerializeAsString()), "')"));
  Sql(absl::StrCat("INSERT INTO objects (kind, key, position, data) VALUES (4, '",
                   leaf_ca.Sha256Hex(), "', 1, X'", pki::HexEncode(legacy.SerializeAsString()),
                   "')"));
  auto store = Open();
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_THAT(Features(state->snapshot.required_features()), SizeIs(0));
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(state->snapshot);
  ASSERT_THAT(snapshot, IsOk());
  pki::IssuedCertificate leaf = contoso.IssueNode("edge", "edge1", "edge1.contoso.test");
  std::optional<pki::RevokedCertificate> revoked = (*snapshot)->revocation_index().FirstRevoked(
      std::vector<pki::Certificate>{leaf.certificate, leaf_ca, contoso.root().certificate});
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(revoked->kind, "der_only");
  EXPECT_EQ(revoked->index, 1u);
  // A new kind on top of the legacy row, then the legacy row removed by its key.
  ASSERT_THAT(store->Commit(Make(2, {PutKindRevocation(v1::REVOCATION_KEY, 'e')})), IsOk());
  ASSERT_THAT(store->Commit(Make(3, {RemoveRevocation(leaf_ca.Sha256Hex())})), IsOk());
  state = store->Load();
  ASSERT_THAT(state, IsOk());
  ASSERT_EQ(state->snapshot.revocations_size(), 1);
  EXPECT_EQ(state->snapshot.revocations(0).kind(), v1::REVOCATION_KEY);
  EXPECT_THAT(Features(state->snapshot.required_features()), ElementsAre("revocation.key"));
}

// --- generations, restore, the audit chain ----------------------------------

TEST_F(SqliteStoreTest, AGenerationIsCreatedWithTheStoreAndKeptAcrossOpens) {
  v1::Generation first;
  {
    auto store = Open();
    absl::StatusOr<StoredState> empty = store->Load();
    ASSERT_THAT(empty, IsOk());
    EXPECT_EQ(empty->snapshot.revision(), 0u);
    first = empty->snapshot.generation();
    EXPECT_EQ(first.epoch(), 1u);
    EXPECT_THAT(first.id(), ::testing::MatchesRegex("[0-9a-f]{32}"));
    ASSERT_THAT(store->Commit(Make(0, {PutRoot("a")})), IsOk());
  }
  auto store = Open();
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(state->snapshot.generation(),
                                                                 first));
  // Another store has another id.
  testing::TempDir other_dir;
  SqliteStore::Options opts;
  opts.path = other_dir.path() + "/other.db";
  absl::StatusOr<std::unique_ptr<SqliteStore>> other = SqliteStore::Open(opts);
  ASSERT_THAT(other, IsOk());
  absl::StatusOr<StoredState> other_state = (*other)->Load();
  ASSERT_THAT(other_state, IsOk());
  EXPECT_EQ(other_state->snapshot.generation().epoch(), 1u);
  EXPECT_NE(other_state->snapshot.generation().id(), first.id());
}

TEST_F(SqliteStoreTest, RestoreWritesABackupIntoAnEmptyStoreUnderAHigherEpoch) {
  v1::TrustSnapshot backup;
  {
    testing::TempDir source_dir;
    SqliteStore::Options opts;
    opts.path = source_dir.path() + "/source.db";
    absl::StatusOr<std::unique_ptr<SqliteStore>> source = SqliteStore::Open(opts);
    ASSERT_THAT(source, IsOk());
    ASSERT_THAT((*source)->Commit(Make(0, {PutRoot("a"), PutRoot("b")})), IsOk());
    ASSERT_THAT((*source)->Commit(Make(1, {PutRevocation(1), PutPeer("fabrikam.test", true)})),
                IsOk());
    absl::StatusOr<StoredState> state = (*source)->Load();
    ASSERT_THAT(state, IsOk());
    backup = state->snapshot;
  }
  auto store = Open();
  RestoreRequest request;
  request.snapshot = backup;
  request.actor = "tfcontrol restore";
  request.time = kT0 + absl::Hours(1);
  absl::StatusOr<v1::Generation> generation = store->Restore(request);
  ASSERT_THAT(generation, IsOk());
  EXPECT_EQ(generation->epoch(), 2u);
  EXPECT_NE(generation->id(), backup.generation().id());

  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  v1::TrustSnapshot expected = backup;
  *expected.mutable_generation() = *generation;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(state->snapshot, expected))
      << state->snapshot.DebugString();
  // No history: every node gets the whole state.
  EXPECT_THAT(state->history, SizeIs(0));
  EXPECT_THAT(store->ChangesSince(1), StatusIs(absl::StatusCode::kOutOfRange, "older than"));

  // The switch is the first audit record of the new chain.
  absl::StatusOr<std::vector<v1::AuditRecord>> audit = store->AuditAfterSeq(0, 10);
  ASSERT_THAT(audit, IsOk());
  ASSERT_THAT(*audit, SizeIs(1));
  EXPECT_EQ((*audit)[0].operation(), "generation.restore");
  EXPECT_EQ((*audit)[0].actor(), "tfcontrol restore");
  EXPECT_EQ((*audit)[0].revision(), 2u);
  EXPECT_THAT((*audit)[0].after(), HasSubstr(absl::StrCat("generation epoch=2 id=",
                                                          generation->id(), " revision=2")));
  // Commits continue from the backup's revision, in the new generation.
  EXPECT_THAT(store->Commit(Make(2, {PutRoot("c")})), IsOk());

  // Only into an empty store.
  EXPECT_THAT(store->Restore(request),
              StatusIs(absl::StatusCode::kFailedPrecondition, "restore only into a new store"));
  // A later restore of a backup of the restored store goes higher still,
  // and an operator can ask for more.
  testing::TempDir next_dir;
  SqliteStore::Options next_opts;
  next_opts.path = next_dir.path() + "/next.db";
  absl::StatusOr<std::unique_ptr<SqliteStore>> next = SqliteStore::Open(next_opts);
  ASSERT_THAT(next, IsOk());
  absl::StatusOr<StoredState> restored = store->Load();
  ASSERT_THAT(restored, IsOk());
  request.snapshot = restored->snapshot;
  request.min_epoch = 7;
  absl::StatusOr<v1::Generation> later = (*next)->Restore(request);
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->epoch(), 7u);
}

TEST_F(SqliteStoreTest, RestoreRefusesWhatIsNoState) {
  auto store = Open();
  RestoreRequest request;
  EXPECT_THAT(store->Restore(request), StatusIs(absl::StatusCode::kInvalidArgument, "revision 0"));
  request.snapshot.set_revision(3);
  request.snapshot.set_trust_domain(kDomain);
  *request.snapshot.add_roots() = PutRoot("a").put_root();
  *request.snapshot.add_roots() = PutRoot("a").put_root();
  EXPECT_THAT(store->Restore(request),
              StatusIs(absl::StatusCode::kInvalidArgument, "root authority a cannot be restored"));
  // Nothing of it stayed.
  absl::StatusOr<StoredState> state = store->Load();
  ASSERT_THAT(state, IsOk());
  EXPECT_EQ(state->snapshot.revision(), 0u);
  EXPECT_EQ(state->snapshot.generation().epoch(), 1u);
}

TEST_F(SqliteStoreTest, AuditRecordsAreChainedAndRefusalsAppendAtTheCurrentRevision) {
  auto store = Open();
  Mutation m = Make(0, {PutRoot("a"), PutRoot("b")});
  m.audit.resize(2);
  m.audit[0].set_operation("root.add");
  m.audit[1].set_operation("root.add");
  ASSERT_THAT(store->Commit(m), IsOk());
  v1::AuditRecord refused;
  refused.set_actor("spiffe://contoso.test/admin/alice");
  refused.set_operation("root.remove");
  refused.set_result("failed_precondition");
  refused.set_reason("still needed");
  *refused.mutable_time() = ToProtoTime(kT0);
  absl::StatusOr<v1::AuditRecord> stored = store->AppendAudit(refused);
  ASSERT_THAT(stored, IsOk());
  EXPECT_EQ(stored->seq(), 3u);
  EXPECT_EQ(stored->revision(), 1u);

  absl::StatusOr<std::vector<v1::AuditRecord>> audit = store->AuditAfterSeq(0, 10);
  ASSERT_THAT(audit, IsOk());
  ASSERT_THAT(*audit, SizeIs(3));
  EXPECT_EQ((*audit)[0].prev_sha256(), audit::kAuditGenesisSha256);
  EXPECT_EQ((*audit)[0].result(), "ok");
  EXPECT_EQ((*audit)[2].result(), "failed_precondition");
  EXPECT_EQ((*audit)[2].reason(), "still needed");
  EXPECT_THAT(audit::VerifyAuditChain(*audit, {}, {kDomain, nullptr}), IsOk());
  absl::StatusOr<audit::AuditHead> head = store->GetAuditHead();
  ASSERT_THAT(head, IsOk());
  EXPECT_EQ(head->seq, 3u);
  EXPECT_EQ(head->sha256, audit::AuditRecordSha256((*audit)[2]));
  absl::StatusOr<std::vector<v1::AuditRecord>> after_two = store->AuditAfterSeq(2, 10);
  ASSERT_THAT(after_two, IsOk());
  ASSERT_THAT(*after_two, SizeIs(1));
  EXPECT_EQ((*after_two)[0].seq(), 3u);

  // Checkpoints: stored, listed by seq, never replaced, never past the end.
  v1::AuditCheckpoint cp;
  cp.set_seq(2);
  cp.set_head_sha256(audit::AuditRecordSha256((*audit)[1]));
  cp.set_signature("first");
  ASSERT_THAT(store->AddCheckpoint(cp), IsOk());
  cp.set_signature("second");
  ASSERT_THAT(store->AddCheckpoint(cp), IsOk());
  cp.set_seq(4);
  EXPECT_THAT(store->AddCheckpoint(cp),
              StatusIs(absl::StatusCode::kInvalidArgument, "seq 4 is not a record"));
  absl::StatusOr<std::vector<v1::AuditCheckpoint>> checkpoints = store->Checkpoints(1, 3);
  ASSERT_THAT(checkpoints, IsOk());
  ASSERT_THAT(*checkpoints, SizeIs(1));
  EXPECT_EQ((*checkpoints)[0].signature(), "first");
  absl::StatusOr<v1::AuditCheckpoint> last = store->LastCheckpoint();
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(last->seq(), 2u);
}

}  // namespace
}  // namespace trustfabric::control
