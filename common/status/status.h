// Status propagation helpers shared by every module.
//
// Errors are absl::Status / absl::StatusOr<T> with the codes of docs/design.md §9.
// Messages are lower case, name the object or field, and never carry key
// material.
//
//   absl::StatusOr<Config> Load(const std::string& path) {
//     TF_ASSIGN_OR_RETURN(std::string text, ReadFile(path));
//     TF_RETURN_IF_ERROR(CheckNotEmpty(text, "config"));
//     return Parse(text);
//   }
#ifndef TRUSTFABRIC_COMMON_STATUS_STATUS_H_
#define TRUSTFABRIC_COMMON_STATUS_STATUS_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

// Returns from the enclosing function if `expr` yields a non-OK status.
#define TF_RETURN_IF_ERROR(expr)                               \
  do {                                                         \
    ::absl::Status tf_status_internal_ = (expr);               \
    if (!tf_status_internal_.ok()) return tf_status_internal_; \
  } while (0)

#define TF_STATUS_CONCAT_INNER_(a, b) a##b
#define TF_STATUS_CONCAT_(a, b) TF_STATUS_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be
// a declaration (`TF_ASSIGN_OR_RETURN(auto x, F())`).
#define TF_ASSIGN_OR_RETURN(lhs, rexpr) \
  TF_ASSIGN_OR_RETURN_IMPL_(TF_STATUS_CONCAT_(tf_statusor_, __LINE__), lhs, rexpr)

#define TF_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)    \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace trustfabric {

// Returns `status` with "<context>: " prepended to its message; OK stays OK.
// Used to name the field a nested validation failed in, e.g.
// Annotate(ValidateRoot(r), "roots[2]") -> "roots[2]: certificates_pem: ...".
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// The lower-case name of a status code, e.g. "invalid_argument", for logs
// and metric labels.
std::string CodeName(absl::StatusCode code);

}  // namespace trustfabric

#endif  // TRUSTFABRIC_COMMON_STATUS_STATUS_H_
