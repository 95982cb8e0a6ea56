// Restore: a backup (`tfctl snapshot --out FILE`) into a new, empty store
// under a new generation (docs/design.md §5), what `tfcontrol restore` runs.
//
//   TF_ASSIGN_OR_RETURN(v1::Generation g,
//                       control::RestoreFromFile({.snapshot_file = "backup.json",
//                                                 .sqlite_path = "/var/lib/tf/control.db"}));
//   // g.epoch() is above the backup's: every node takes the restored state
//   // as a full snapshot, however far ahead its revision is.
#ifndef TRUSTFABRIC_SERVER_CONTROL_RESTORE_H_
#define TRUSTFABRIC_SERVER_CONTROL_RESTORE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

struct RestoreOptions {
  // A TrustSnapshot in protobuf JSON (first non-blank character '{') or
  // binary form.
  std::string snapshot_file;
  // The store to create; must not hold a state yet.
  std::string sqlite_path;
  // At least this epoch (see RestoreRequest::min_epoch).
  uint64_t min_epoch = 0;
  // The audit record's actor.
  std::string actor = "tfcontrol restore";
  absl::Time now = absl::Now();
};

// Reads and validates the backup (trust::TrustSnapshot::Create: a node
// would refuse anything that fails), opens the store and restores it.
//   INVALID_ARGUMENT "snapshot: <file>: ..." for an unreadable or invalid
//     backup;
//   FAILED_PRECONDITION when the store is not empty or in use;
//   other store errors as they come.
absl::StatusOr<v1::Generation> RestoreFromFile(const RestoreOptions& options);

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_RESTORE_H_
