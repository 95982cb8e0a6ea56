// The registrar's table: which front-end currently serves each user of the
// domain. gRPC-free; RegistrarService is the thin gRPC layer over it.
//
//   node::Registry registry("contoso.test", state_dir);
//   TF_RETURN_IF_ERROR(registry.Load());
//   TF_RETURN_IF_ERROR(registry.Register("alice@contoso.test", "fe1.contoso.test",
//                                        "127.0.0.12:7443"));
//   TF_ASSIGN_OR_RETURN(node::Registration r, registry.Lookup("alice@contoso.test"));
//
// Registrations survive a restart: every change is written to
// <state_dir>/registrations.json (temp file, fsync, rename) before it is
// acknowledged.
#ifndef TRUSTFABRIC_SERVER_NODE_REGISTRY_H_
#define TRUSTFABRIC_SERVER_NODE_REGISTRY_H_

#include <string>

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

class Registry {
 public:
  // `state_dir` empty: registrations live in memory only.
  Registry(std::string trust_domain, std::string state_dir, size_t max_users = 100000);

  // Reads the persisted registrations (a missing file is an empty table).
  absl::Status Load();

  // INVALID_ARGUMENT for a malformed user or a user of another domain;
  // RESOURCE_EXHAUSTED when the table is full; a re-registration moves the
  // user to the new front-end.
  absl::Status Register(absl::string_view user, absl::string_view frontend,
                        absl::string_view frontend_address);
  // NOT_FOUND when the user is not registered.
  absl::Status Unregister(absl::string_view user);
  absl::StatusOr<Registration> Lookup(absl::string_view user) const;
  size_t size() const;

 private:
  absl::Status CheckUser(absl::string_view user) const;
  absl::Status PersistLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::string trust_domain_;
  const std::string state_dir_;
  const size_t max_users_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Registration> users_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_REGISTRY_H_
