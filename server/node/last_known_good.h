// The last-known-good trust snapshot of a node, persisted so that a node
// restarted without a reachable control plane serves from the state it last
// applied (docs/design.md §5).
//
// The file lives in the trust agent's state directory and is replaced
// atomically: written to a temporary file, fsync'ed, renamed over the old
// one, and the directory fsync'ed (WriteFileAtomically), so a crash leaves
// either the old or the new file, never a mix. It carries a text header that a person can read
// with `head`:
//
//   trustfabric-last-known-good v1
//   revision 42
//   confirmed-at 2025-01-01T10:00:00.123456789+00:00
//   length 18231
//   sha256 <64 lower-case hex>
//   <empty line>
//   <length bytes: the serialized v1.TrustSnapshot>
//
// The checksum is the SHA-256 of the header lines above the `sha256` line
// followed by the serialized snapshot, so a flipped bit in the confirmation
// time is caught as surely as one in the snapshot.
//
//   node::LastKnownGoodFile lkg("/var/lib/tfnode");
//   TF_RETURN_IF_ERROR(lkg.Save(snapshot->proto(), absl::Now()));
//   absl::StatusOr<node::LastKnownGood> loaded = lkg.Load();
//   if (absl::IsNotFound(loaded.status())) ...  // first start
//   else if (!loaded.ok()) ...                  // DATA_LOSS: corrupt, refused
#ifndef TRUSTFABRIC_SERVER_NODE_LAST_KNOWN_GOOD_H_
#define TRUSTFABRIC_SERVER_NODE_LAST_KNOWN_GOOD_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::node {

// The file's name inside the state directory.
inline constexpr char kLastKnownGoodFileName[] = "trust_snapshot.lkg";

struct LastKnownGood {
  v1::TrustSnapshot snapshot;
  // When a control plane last confirmed this state (an update or a
  // keepalive arrived). Lets a restarted node know how old its state is.
  absl::Time confirmed_at = absl::InfinitePast();
};

// The file contents for `serialized_snapshot` (a serialized
// v1.TrustSnapshot whose revision is `revision`).
std::string EncodeLastKnownGood(absl::string_view serialized_snapshot, uint64_t revision,
                                absl::Time confirmed_at);

// Parses file contents. DATA_LOSS naming what is wrong: a header that is not
// this format, a length larger than trust::kMaxSnapshotBytes, truncation,
// trailing bytes, a checksum mismatch, a snapshot that does not parse or
// whose revision differs from the header's. Structural validation of the
// snapshot is the caller's (trust::TrustSnapshot::Create).
absl::StatusOr<LastKnownGood> DecodeLastKnownGood(absl::string_view contents);

// The last-known-good file of one state directory. Thread-compatible: one
// writer at a time (the trust agent's thread); Load may run concurrently
// with Save and sees the old or the new file.
class LastKnownGoodFile {
 public:
  // REQUIRES: `state_dir` exists (the trust agent creates it).
  explicit LastKnownGoodFile(std::string state_dir);

  const std::string& state_dir() const { return state_dir_; }
  // state_dir/kLastKnownGoodFileName.
  const std::string& path() const { return path_; }

  // Replaces the file atomically and durably with `snapshot` (see the file
  // banner). Temporary files left by an earlier writer that crashed are
  // removed first. On error the previous file is untouched and no temporary
  // file remains; the message names the step and the path, with the code
  // derived from errno (e.g. RESOURCE_EXHAUSTED for a full disk).
  // INVALID_ARGUMENT when the serialized snapshot exceeds
  // trust::kMaxSnapshotBytes (it could not be loaded back).
  absl::Status Save(const v1::TrustSnapshot& snapshot, absl::Time confirmed_at) const;

  // NOT_FOUND when there is no file; DATA_LOSS (see DecodeLastKnownGood)
  // when it is corrupt; messages start with "last-known-good <path>: ".
  absl::StatusOr<LastKnownGood> Load() const;

 private:
  const std::string state_dir_;
  const std::string path_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_LAST_KNOWN_GOOD_H_
