// (c) Durable mutations per second through the ControlPlane domain API
// (SQLite, WAL, synchronous=FULL, one transaction per mutation with history
// and audit) vs a raw SQLite loop inserting rows of the same size with the
// same settings, one transaction per insert.
#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/control_common.h"
#include "common/trust/holder.h"
#include "server/control/control_plane.h"
#include "server/control/node_registry.h"
#include "server/control/sqlite_store.h"

namespace trustfabric::bench {
namespace {

// The baseline: one row per transaction into a plain SQLite table, with the
// store's settings (WAL, synchronous=FULL, BEGIN IMMEDIATE ... COMMIT).
class RawSqlite {
 public:
  explicit RawSqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
      Die("raw sqlite: cannot open");
    }
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA synchronous=FULL");
    Exec("CREATE TABLE rows (key TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID");
    if (sqlite3_prepare_v2(db_, "INSERT INTO rows (key, data) VALUES (?, ?)", -1, &insert_,
                           nullptr) != SQLITE_OK) {
      Die("raw sqlite: cannot prepare");
    }
  }
  ~RawSqlite() {
    sqlite3_finalize(insert_);
    sqlite3_close_v2(db_);
  }

  // `count` rows of `bytes` bytes in one transaction (setting up a table as
  // large as the store's).
  void Fill(int count, size_t bytes) {
    Exec("BEGIN IMMEDIATE");
    for (int i = 0; i < count; ++i) Insert(absl::StrCat("fill-", i), std::string(bytes, 'f'));
    Exec("COMMIT");
  }

  // Inserts up to `count` rows of `bytes` bytes, one transaction each, for
  // at most `limit`; returns rows per second.
  double Loop(int count, size_t bytes, absl::Duration limit) {
    const std::string data(bytes, 'x');
    const absl::Time start = absl::Now();
    int done = 0;
    while (done < count && absl::Now() - start < limit) {
      Exec("BEGIN IMMEDIATE");
      Insert(absl::StrCat("row-", next_++), data);
      Exec("COMMIT");
      ++done;
    }
    return done / absl::ToDoubleSeconds(absl::Now() - start);
  }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &error) != SQLITE_OK) {
      Die(absl::StrCat("raw sqlite: ", sql, ": ", error ? error : "?"));
    }
  }
  void Insert(const std::string& key, const std::string& data) {
    sqlite3_reset(insert_);
    sqlite3_bind_text(insert_, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    sqlite3_bind_blob(insert_, 2, data.data(), static_cast<int>(data.size()), SQLITE_TRANSIENT);
    if (sqlite3_step(insert_) != SQLITE_DONE) Die("raw sqlite: insert failed");
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  int next_ = 0;
};

// A ControlPlane on its own SQLite store, without gRPC.
struct DomainRig {
  trust::SnapshotHolder holder;
  control::NodeRegistry nodes;
  std::unique_ptr<control::ControlPlane> cp;

  DomainRig(const BenchPki& pki, const std::string& path) {
    control::SqliteStore::Options store;
    store.path = path;
    control::ControlPlane::Options opts;
    opts.trust_domain = kContosoDomain;
    opts.realm = kContosoRealm;
    opts.seed_root_name = "contoso-root";
    opts.seed_root_pem = pki.domain().RootPem();
    cp = Check(control::ControlPlane::Create(
                   opts, Check(control::SqliteStore::Open(store), "open store"), &holder, &nodes),
               "control plane");
  }
};

// Adds the issuers (timed, bounded by `limit`) and removes those it added
// (untimed), so every repetition starts from the same state.
double AddIssuers(control::ControlPlane& cp, const std::vector<v1::TokenIssuer>& issuers,
                  absl::Duration limit) {
  const absl::Time start = absl::Now();
  size_t done = 0;
  for (const v1::TokenIssuer& issuer : issuers) {
    if (absl::Now() - start >= limit) break;
    v1::AddTokenIssuerRequest request;
    *request.mutable_issuer() = issuer;
    Check(cp.AddTokenIssuer(AdminCaller(), request).status(), "add issuer");
    ++done;
  }
  const double rate = done / absl::ToDoubleSeconds(absl::Now() - start);
  for (size_t i = 0; i < done; ++i) {
    v1::RemoveTokenIssuerRequest request;
    request.set_name(issuers[i].name());
    Check(cp.RemoveTokenIssuer(AdminCaller(), request).status(), "remove issuer");
  }
  return rate;
}

void CompareMutations(const char* name, control::ControlPlane& cp, RawSqlite& raw,
                      const std::vector<v1::TokenIssuer>& issuers, int reps, double seconds) {
  const size_t row = issuers.front().ByteSizeLong();
  Comparison c = Interleave(
      name, "/s", reps,
      [&] { return raw.Loop(static_cast<int>(issuers.size()), row, absl::Seconds(seconds)); },
      [&] { return AddIssuers(cp, issuers, absl::Seconds(seconds)); });
  Report(c, 0.5);
  std::printf("    per-rep raw [%s]  control plane [%s]; row %zu B\n", List(c.baseline).c_str(),
              List(c.candidate).c_str(), row);
  std::fflush(stdout);
}

}  // namespace

void RunMutations(const Options& o, BenchPki& pki, LargeDomainCache& large_domain) {
  std::printf("\n(c) durable mutations per second (WAL, synchronous=FULL)\n");
  std::fflush(stdout);
  // Small domain: the seed root and base_issuers issuers; each repetition
  // adds `mutations` new issuers (signing certificates under contoso's
  // token-signing root), then removes them untimed.
  {
    DomainRig rig(pki, pki.dir().path() + "/mutations.db");
    const pki::IssuedCertificate& ca = pki.domain().root();
    for (int i = 0; i < o.base_issuers; ++i) {
      v1::AddTokenIssuerRequest request;
      *request.mutable_issuer() = NewIssuer(absl::StrCat("base-", i), Guid(i, 1), ca);
      Check(rig.cp->AddTokenIssuer(AdminCaller(), request).status(), "base issuer");
    }
    std::vector<v1::TokenIssuer> issuers;
    for (int i = 0; i < o.mutations; ++i) {
      issuers.push_back(NewIssuer(absl::StrCat("bench-", i), Guid(i, 2), ca));
    }
    RawSqlite raw(pki.dir().path() + "/raw.db");
    raw.Fill(o.base_issuers + 1, issuers.front().ByteSizeLong());
    // Warm-up: a few of each.
    raw.Loop(20, issuers.front().ByteSizeLong(), absl::Seconds(5));
    AddIssuers(*rig.cp,
               std::vector<v1::TokenIssuer>(issuers.begin(),
                                            issuers.begin() + std::min<size_t>(20, issuers.size())),
               absl::Seconds(5));
    CompareMutations(
        absl::StrFormat("(c) mutations/s, %d-issuer domain", o.base_issuers + 1).c_str(), *rig.cp,
        raw, issuers, o.mutation_reps, o.mutation_seconds);
  }
  // Large domain: the same mutation on top of `issuers` issuers and
  // `roots` roots.
  if (o.large_mutations > 0) {
    const std::vector<v1::TrustChange>& large = large_domain.Get(pki, o.roots, o.issuers);
    const std::string path = pki.dir().path() + "/mutations-large.db";
    PopulateStore(path, large);
    DomainRig rig(pki, path);
    std::vector<v1::TokenIssuer> issuers;
    for (int i = 0; i < o.large_mutations; ++i) {
      issuers.push_back(NewIssuer(absl::StrCat("bench-", i), Guid(i, 3), pki.domain().root()));
    }
    RawSqlite raw(pki.dir().path() + "/raw-large.db");
    raw.Fill(static_cast<int>(large.size()), issuers.front().ByteSizeLong());
    CompareMutations(
        absl::StrFormat("(c) mutations/s, %d issuers + %d roots", o.issuers, o.roots + 1).c_str(),
        *rig.cp, raw, issuers, o.large_mutation_reps, o.mutation_seconds);
  }
}

}  // namespace trustfabric::bench
