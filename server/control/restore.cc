// Restore of a backup into a new store; see restore.h.
#include "server/control/restore.h"

#include <memory>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"
#include "common/trust/snapshot.h"
#include "common/trust/validation.h"
#include "google/protobuf/util/json_util.h"
#include "server/control/sqlite_store.h"

namespace trustfabric::control {

absl::StatusOr<v1::Generation> RestoreFromFile(const RestoreOptions& options) {
  const std::string where = absl::StrCat("snapshot: ", options.snapshot_file, ": ");
  absl::StatusOr<std::string> bytes =
      ReadFileLimited(options.snapshot_file, trust::kMaxSnapshotBytes);
  if (!bytes.ok()) return absl::InvalidArgumentError(absl::StrCat(where, bytes.status().message()));
  v1::TrustSnapshot backup;
  if (absl::StartsWith(absl::StripLeadingAsciiWhitespace(*bytes), "{")) {
    google::protobuf::util::JsonParseOptions json;
    json.ignore_unknown_fields = false;
    if (auto parsed = google::protobuf::util::JsonStringToMessage(*bytes, &backup, json);
        !parsed.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, parsed.ToString()));
    }
  } else if (!backup.ParseFromString(*bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(where, "neither protobuf json nor binary"));
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> valid =
      trust::TrustSnapshot::Create(backup);
  if (!valid.ok()) return Annotate(valid.status(), where + "not a valid trust snapshot");

  SqliteStore::Options store_options;
  store_options.path = options.sqlite_path;
  TF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> store, SqliteStore::Open(store_options));
  RestoreRequest request;
  request.snapshot = std::move(backup);
  request.min_epoch = options.min_epoch;
  request.actor = options.actor;
  request.time = options.now;
  return store->Restore(request);
}

}  // namespace trustfabric::control
