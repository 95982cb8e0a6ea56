// The registrar's table: which front-end currently serves each user of the
// domain. gRPC-free; RegistrarService is the thin gRPC layer over it.
//
//   node::RegistryLimits limits;  // 1,000,000 users, 100,000 per front-end
//   node::Registry registry("contoso.test", state_dir, limits);
//   TF_RETURN_IF_ERROR(registry.Load());
//   TF_RETURN_IF_ERROR(registry.Register("alice@contoso.test", "fe1.contoso.test",
//                                        "127.0.0.12:7443"));
//   TF_ASSIGN_OR_RETURN(node::Registration r, registry.Lookup("alice@contoso.test"));
//
// Durability: registrations survive a restart. Every change is one row
// written to the SQLite database <state_dir>/registrations.db (WAL,
// synchronous=FULL: the commit is fsynced before Register or Unregister
// returns, as the whole-file rewrite it replaces was, so an acknowledged
// sign-in survives a power loss; NORMAL would be cheaper but could lose the
// last sign-ins, which would then point users at no front-end). A change
// costs O(1) however many users are registered.
//
// Concurrency: changes are serialized by a writer lock that lookups never
// take; the table lookups read is updated under its own lock only after the
// commit, for the time it takes to change one entry. So a lookup never waits
// for a sign-in's fsync, and it sees a registration only once it is durable.
//
// Migration: a registrations.json written by earlier versions (the whole
// table, rewritten on every change) is imported by Load in one transaction
// and renamed to registrations.json.migrated.
#ifndef TRUSTFABRIC_SERVER_NODE_REGISTRY_H_
#define TRUSTFABRIC_SERVER_NODE_REGISTRY_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace trustfabric::node {

struct Registration {
  std::string user;
  std::string frontend;          // DNS name
  std::string frontend_address;  // host:port
  absl::Time registered_at;
};

// Splits "alice@contoso.test" into local part and domain; INVALID_ARGUMENT
// naming `field` unless the local part is 1..64 of [a-z0-9._+-] and the
// domain a valid DNS name.
absl::Status ParseUser(absl::string_view user, absl::string_view field, std::string* local,
                       std::string* domain);

// NodeConfig.registrations; 0 in a field means its default.
struct RegistryLimits {
  size_t max_users = 1000000;
  size_t max_users_per_frontend = 100000;
};

class Registry {
 public:
  // `state_dir` empty: registrations live in memory only.
  Registry(std::string trust_domain, std::string state_dir, RegistryLimits limits = {});
  ~Registry();

  // Opens the database (creating it), imports and renames an old
  // registrations.json, and reads every registration. INVALID_ARGUMENT
  // naming the file for a malformed old file or a stored user of another
  // domain; UNAVAILABLE when the database cannot be opened or written
  // (DATA_LOSS when it is corrupt).
  absl::Status Load();

  // INVALID_ARGUMENT for a malformed user or a user of another domain;
  // RESOURCE_EXHAUSTED "registrar is full (<n> users)" or "frontend:
  // <frontend> has <n> users registered, the most it may have
  // (registrations.max_users_per_frontend)"; UNAVAILABLE when the change
  // cannot be made durable (nothing changes). A re-registration moves the
  // user to the new front-end (counted against that front-end's bound).
  absl::Status Register(absl::string_view user, absl::string_view frontend,
                        absl::string_view frontend_address);
  // NOT_FOUND when the user is not registered.
  absl::Status Unregister(absl::string_view user);
  // Never waits for a change being written.
  absl::StatusOr<Registration> Lookup(absl::string_view user) const;
  size_t size() const;
  size_t users_of(absl::string_view frontend) const;

  // Test seam: called by Register and Unregister with the writer lock held,
  // after the change is decided and before it is written.
  void set_before_write(std::function<void()> hook) { before_write_ = std::move(hook); }

 private:
  class Database;

  absl::Status CheckUser(absl::string_view user) const;
  // The old registrations.json, parsed and checked (NOT_FOUND when absent).
  absl::StatusOr<std::vector<Registration>> ReadOldFile(const std::string& path) const;
  // Puts `r` into the table (REQUIRES: the writer lock, the change durable).
  void Apply(const Registration& r) ABSL_LOCKS_EXCLUDED(mu_);

  const std::string trust_domain_;
  const std::string state_dir_;
  const RegistryLimits limits_;
  std::function<void()> before_write_;

  // Serializes changes and guards the database; held across its fsync.
  mutable absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  std::unique_ptr<Database> db_ ABSL_GUARDED_BY(write_mu_);

  // The table lookups read; held only to read or change entries.
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Registration> users_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, size_t> per_frontend_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_REGISTRY_H_
