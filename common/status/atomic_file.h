// Durable whole-file replacement: write a uniquely named temp file with
// exactly `mode`, fsync it, rename it over the target, fsync the directory.
// A reader sees the old or the new contents, never a mix, also after a
// crash; no temp file is left behind on error.
//
//   TF_RETURN_IF_ERROR(WriteFileAtomically(dir + "/state.json", text, 0600));
#ifndef TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_
#define TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric {

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents,
                                 int mode = 0600);

// Reads a whole file of at most `max_bytes`; NOT_FOUND when it does not exist,
// INVALID_ARGUMENT when larger.
absl::StatusOr<std::string> ReadFileLimited(const std::string& path, size_t max_bytes);

}  // namespace trustfabric

#endif  // TRUSTFABRIC_COMMON_STATUS_ATOMIC_FILE_H_
