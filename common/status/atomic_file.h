// Whole files on disk: a durable atomic replacement and a bounded read.
//
// WriteFileAtomically writes a uniquely named temporary file next to the
// target ("<path>.tmp-XXXXXX") with exactly `mode`, fsyncs it, renames it
// over the target, then fsyncs the directory. A reader sees the old or the
// new contents, never a mix, also after a crash (the directory fsync makes
// the rename itself survive a power loss); no temporary file is left behind
// on error. A writer that crashes between creating its temporary file and
// the rename leaves that file; a path with a single writer removes such
// leftovers with RemoveStaleTemporaries before it writes.
//
//   TF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/state.json", text, 0600));
//   absl::StatusOr<std::string> text = ReadFileLimited(dir + "/state.json", 1 << 20);
//   if (absl::IsNotFound(text.status())) ...  // first start
//
// Errors carry the step and the path, "cannot fsync /var/lib/x.tmp-Ab12Cd:
// Input/output error", with the code derived from errno (absl::ErrnoToStatus:
// NOT_FOUND for a missing directory, RESOURCE_EXHAUSTED for a full disk,
// PERMISSION_DENIED, ...).
#ifndef TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_
#define TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric {

// Replaces `path` with `contents` durably and atomically (see above); the
// file gets permission bits `mode` (umask aside) from its creation on, so a
// key is never readable by others even for a moment. On error the previous
// file is untouched. Concurrent writers of one path never share a temporary
// file; the last rename wins.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0600);

// Removes the temporary files ("<path>.tmp-*") that writers of `path` left
// when they died before their rename. REQUIRES: no other writer of `path`
// is running (it would lose its temporary file and fail). Best effort:
// errors are ignored.
void RemoveStaleTemporaries(const std::string& path);

// Reads a whole file of at most `max_bytes`; NOT_FOUND "<path>: no such
// file" when it does not exist, INVALID_ARGUMENT "<path>: larger than <n>
// bytes" when larger; other failures as above. Reads what a pipe or device
// delivers as well (e.g. /dev/stdin).
absl::StatusOr<std::string> ReadFileLimited(const std::string& path, size_t max_bytes);

}  // namespace trustfabric

#endif  // TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_
