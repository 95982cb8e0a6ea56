// Status helpers; see status.h.
#include "common/status/status.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace trustfabric {

absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

std::string CodeName(absl::StatusCode code) {
  return absl::AsciiStrToLower(absl::StatusCodeToString(code));
}

}  // namespace trustfabric
