// Registry; see registry.h.
#include "server/node/registry.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/pki/spiffe.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "spdlog/spdlog.h"

namespace trustfabric::node {
namespace {

constexpr size_t kMaxStateBytes = 64 << 20;

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

std::string TextColumn(sqlite3_stmt* s, int column) {
  const unsigned char* text = sqlite3_column_text(s, column);
  return text == nullptr ? std::string()
                         : std::string(reinterpret_cast<const char*>(text),
                                       static_cast<size_t>(sqlite3_column_bytes(s, column)));
}

RegistryLimits WithDefaults(RegistryLimits limits) {
  const RegistryLimits defaults;
  if (limits.max_users == 0) limits.max_users = defaults.max_users;
  if (limits.max_users_per_frontend == 0) {
    limits.max_users_per_frontend = defaults.max_users_per_frontend;
  }
  return limits;
}

// fsync of a directory, so that a rename in it is durable.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || fsync(fd) != 0) {
    const int err = errno;
    if (fd >= 0) close(fd);
    return absl::UnavailableError(absl::StrCat(dir, ": cannot sync: ", strerror(err)));
  }
  close(fd);
  return absl::OkStatus();
}

bool IsLocalPartChar(char c) {
  return absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '.' || c == '_' || c == '+' ||
         c == '-';
}

}  // namespace

absl::Status ParseUser(absl::string_view user, absl::string_view field, std::string* local,
                       std::string* domain) {
  size_t at = user.find('@');
  if (at == absl::string_view::npos || at == 0 || at > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": expected <name>@<trust-domain> in lower case"));
  }
  for (char c : user.substr(0, at)) {
    if (!IsLocalPartChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": user name may contain only a-z 0-9 . _ + -"));
    }
  }
  if (!pki::IsValidDnsName(user.substr(at + 1))) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": domain is not a valid dns name"));
  }
  if (local != nullptr) *local = std::string(user.substr(0, at));
  if (domain != nullptr) *domain = std::string(user.substr(at + 1));
  return absl::OkStatus();
}

// The registrations table in SQLite: one row per user, written one
// statement (one transaction) per change.
class Registry::Database {
 public:
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& path) {
    std::unique_ptr<Database> d(new Database(path));
    const int rc = sqlite3_open_v2(path.c_str(), &d->db_,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                                   nullptr);
    if (rc != SQLITE_OK) return d->Error("cannot open");
    sqlite3_extended_result_codes(d->db_, 1);
    sqlite3_busy_timeout(d->db_, 5000);
    // WAL + FULL: see registry.h (Durability).
    TF_RETURN_IF_ERROR(d->Exec("PRAGMA journal_mode=WAL"));
    TF_RETURN_IF_ERROR(d->Exec("PRAGMA synchronous=FULL"));
    TF_RETURN_IF_ERROR(
        d->Exec("CREATE TABLE IF NOT EXISTS registrations (user TEXT PRIMARY KEY, frontend TEXT "
                "NOT NULL, frontend_address TEXT NOT NULL, registered_at INTEGER NOT NULL) "
                "WITHOUT ROWID"));
    TF_ASSIGN_OR_RETURN(d->put_, d->Prepare("INSERT OR REPLACE INTO registrations (user, "
                                            "frontend, frontend_address, registered_at) VALUES "
                                            "(?1, ?2, ?3, ?4)"));
    TF_ASSIGN_OR_RETURN(d->remove_, d->Prepare("DELETE FROM registrations WHERE user = ?1"));
    return d;
  }

  ~Database() {
    put_.reset();
    remove_.reset();
    sqlite3_close_v2(db_);
  }

  absl::Status Put(const Registration& r) {
    Bind(put_.get(), 1, r.user);
    Bind(put_.get(), 2, r.frontend);
    Bind(put_.get(), 3, r.frontend_address);
    sqlite3_bind_int64(put_.get(), 4, absl::ToUnixSeconds(r.registered_at));
    return Run(put_.get(), "cannot write a registration");
  }

  absl::Status Remove(const std::string& user) {
    Bind(remove_.get(), 1, user);
    return Run(remove_.get(), "cannot remove a registration");
  }

  // Every registration of `all` in one transaction.
  absl::Status PutAll(const std::vector<Registration>& all) {
    TF_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
    for (const Registration& r : all) {
      absl::Status put = Put(r);
      if (!put.ok()) {
        Exec("ROLLBACK").IgnoreError();
        return put;
      }
    }
    return Exec("COMMIT");
  }

  absl::StatusOr<std::vector<Registration>> ReadAll() {
    TF_ASSIGN_OR_RETURN(
        Statement s,
        Prepare("SELECT user, frontend, frontend_address, registered_at FROM registrations"));
    std::vector<Registration> all;
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      all.push_back(Registration{TextColumn(s.get(), 0), TextColumn(s.get(), 1),
                                 TextColumn(s.get(), 2),
                                 absl::FromUnixSeconds(sqlite3_column_int64(s.get(), 3))});
    }
    if (rc != SQLITE_DONE) return Error("cannot read registrations");
    return all;
  }

 private:
  explicit Database(std::string path) : path_(std::move(path)) {}

  absl::Status Error(absl::string_view what) const {
    const std::string message = absl::StrCat(
        "registrar state ", path_, ": ", what, ": ",
        db_ != nullptr ? sqlite3_errmsg(db_) : "out of memory");
    const int code = db_ != nullptr ? sqlite3_extended_errcode(db_) & 0xff : SQLITE_NOMEM;
    if (code == SQLITE_CORRUPT || code == SQLITE_NOTADB) return absl::DataLossError(message);
    return absl::UnavailableError(message);
  }

  absl::Status Exec(const char* sql) {
    if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error(sql);
    return absl::OkStatus();
  }

  absl::StatusOr<Statement> Prepare(const char* sql) {
    sqlite3_stmt* raw = nullptr;
    if (sqlite3_prepare_v2(db_, sql, -1, &raw, nullptr) != SQLITE_OK) {
      sqlite3_finalize(raw);
      return Error("cannot prepare a statement");
    }
    return Statement(raw);
  }

  static void Bind(sqlite3_stmt* s, int index, const std::string& text) {
    sqlite3_bind_text(s, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }

  // Runs a prepared change (in autocommit mode: its own durable transaction).
  absl::Status Run(sqlite3_stmt* s, absl::string_view what) {
    const int rc = sqlite3_step(s);
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    if (rc != SQLITE_DONE) return Error(what);
    return absl::OkStatus();
  }

  const std::string path_;
  sqlite3* db_ = nullptr;
  Statement put_;
  Statement remove_;
};

Registry::Registry(std::string trust_domain, std::string state_dir, RegistryLimits limits)
    : trust_domain_(std::move(trust_domain)),
      state_dir_(std::move(state_dir)),
      limits_(WithDefaults(limits)) {}

Registry::~Registry() = default;

absl::Status Registry::CheckUser(absl::string_view user) const {
  std::string domain;
  TF_RETURN_IF_ERROR(ParseUser(user, "user", nullptr, &domain));
  if (domain != trust_domain_) {
    return absl::InvalidArgumentError(
        absl::StrCat("user: ", user, " is not in trust domain ", trust_domain_));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Registration>> Registry::ReadOldFile(const std::string& path) const {
  TF_ASSIGN_OR_RETURN(std::string text, ReadFileLimited(path, kMaxStateBytes));
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("users") ||
      !doc["users"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a registrations file"));
  }
  std::vector<Registration> loaded;
  for (const auto& u : doc["users"]) {
    if (!u.is_object() || !u.contains("user") || !u["user"].is_string() ||
        !u.contains("frontend") || !u["frontend"].is_string() || !u.contains("frontend_address") ||
        !u["frontend_address"].is_string() || !u.contains("registered_at") ||
        !u["registered_at"].is_number_integer()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": malformed registration entry"));
    }
    Registration r{u["user"].get<std::string>(), u["frontend"].get<std::string>(),
                   u["frontend_address"].get<std::string>(),
                   absl::FromUnixSeconds(u["registered_at"].get<int64_t>())};
    TF_RETURN_IF_ERROR(Annotate(CheckUser(r.user), path));
    loaded.push_back(std::move(r));
  }
  return loaded;
}

absl::Status Registry::Load() {
  if (state_dir_.empty()) return absl::OkStatus();
  absl::MutexLock write(&write_mu_);
  const std::string old_path = state_dir_ + "/registrations.json";
  absl::StatusOr<std::vector<Registration>> old = ReadOldFile(old_path);
  if (!old.ok() && !absl::IsNotFound(old.status())) return old.status();
  if (!db_) {
    TF_ASSIGN_OR_RETURN(db_, Database::Open(state_dir_ + "/registrations.db"));
  }
  if (old.ok()) {
    TF_RETURN_IF_ERROR(db_->PutAll(*old));
    const std::string aside = old_path + ".migrated";
    if (std::rename(old_path.c_str(), aside.c_str()) != 0) {
      return absl::UnavailableError(
          absl::StrCat(old_path, ": imported, but cannot rename it: ", strerror(errno)));
    }
    TF_RETURN_IF_ERROR(SyncDirectory(state_dir_));
    spdlog::info("registrar: imported {} registrations from {} (now {})", old->size(), old_path,
                 aside);
  }
  TF_ASSIGN_OR_RETURN(std::vector<Registration> all, db_->ReadAll());
  absl::flat_hash_map<std::string, Registration> users;
  absl::flat_hash_map<std::string, size_t> per_frontend;
  for (Registration& r : all) {
    TF_RETURN_IF_ERROR(Annotate(CheckUser(r.user), state_dir_ + "/registrations.db"));
    ++per_frontend[r.frontend];
    std::string key = r.user;
    users.insert_or_assign(std::move(key), std::move(r));
  }
  absl::MutexLock lock(&mu_);
  users_ = std::move(users);
  per_frontend_ = std::move(per_frontend);
  return absl::OkStatus();
}

void Registry::Apply(const Registration& r) {
  absl::MutexLock lock(&mu_);
  auto it = users_.find(r.user);
  if (it != users_.end()) {
    if (--per_frontend_[it->second.frontend] == 0) per_frontend_.erase(it->second.frontend);
    it->second = r;
  } else {
    users_.emplace(r.user, r);
  }
  ++per_frontend_[r.frontend];
}

absl::Status Registry::Register(absl::string_view user, absl::string_view frontend,
                                absl::string_view frontend_address) {
  TF_RETURN_IF_ERROR(CheckUser(user));
  if (!pki::IsValidDnsName(frontend)) {
    return absl::InvalidArgumentError("frontend: not a valid dns name");
  }
  if (frontend_address.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("frontend: no address is configured for ",
                                                      frontend, " (registrar addresses map)"));
  }
  absl::MutexLock write(&write_mu_);
  {
    // Only changes take write_mu_, so what is read here holds until Apply.
    absl::ReaderMutexLock lock(&mu_);
    auto it = users_.find(user);
    if (it == users_.end() && users_.size() >= limits_.max_users) {
      return absl::ResourceExhaustedError(
          absl::StrCat("registrar is full (", limits_.max_users, " users)"));
    }
    const bool joins = it == users_.end() || it->second.frontend != frontend;
    auto count = per_frontend_.find(frontend);
    if (joins && count != per_frontend_.end() &&
        count->second >= limits_.max_users_per_frontend) {
      return absl::ResourceExhaustedError(
          absl::StrCat("frontend: ", frontend, " has ", count->second,
                       " users registered, the most it may have "
                       "(registrations.max_users_per_frontend)"));
    }
  }
  const Registration next{std::string(user), std::string(frontend),
                          std::string(frontend_address), absl::Now()};
  if (before_write_) before_write_();
  if (db_) TF_RETURN_IF_ERROR(db_->Put(next));
  Apply(next);
  return absl::OkStatus();
}

absl::Status Registry::Unregister(absl::string_view user) {
  TF_RETURN_IF_ERROR(CheckUser(user));
  absl::MutexLock write(&write_mu_);
  std::string frontend;
  {
    absl::ReaderMutexLock lock(&mu_);
    auto it = users_.find(user);
    if (it == users_.end()) {
      return absl::NotFoundError(absl::StrCat("user ", user, " is not registered"));
    }
    frontend = it->second.frontend;
  }
  if (before_write_) before_write_();
  if (db_) TF_RETURN_IF_ERROR(db_->Remove(std::string(user)));
  absl::MutexLock lock(&mu_);
  users_.erase(user);
  if (--per_frontend_[frontend] == 0) per_frontend_.erase(frontend);
  return absl::OkStatus();
}

absl::StatusOr<Registration> Registry::Lookup(absl::string_view user) const {
  TF_RETURN_IF_ERROR(CheckUser(user));
  absl::ReaderMutexLock lock(&mu_);
  auto it = users_.find(user);
  if (it == users_.end()) {
    return absl::NotFoundError(absl::StrCat("user ", user, " is not registered"));
  }
  return it->second;
}

size_t Registry::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return users_.size();
}

size_t Registry::users_of(absl::string_view frontend) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = per_frontend_.find(frontend);
  return it == per_frontend_.end() ? 0 : it->second;
}

}  // namespace trustfabric::node
