// GoogleMock matchers for absl::Status and absl::StatusOr<T>.
//
//   EXPECT_THAT(pki::ParsePemBundle(""),
//               testing::StatusIs(absl::StatusCode::kInvalidArgument, "empty input"));
//   EXPECT_THAT(pki::Base64UrlDecode("Zg"), testing::IsOk());
//
// Tests assert what a user sees: the code and a substring of the message.
#ifndef TRUSTFABRIC_TESTS_TESTING_STATUS_MATCHERS_H_
#define TRUSTFABRIC_TESTS_TESTING_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace trustfabric::testing {
namespace internal {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

}  // namespace internal

// Code equals `code` and the message contains `substring`.
MATCHER_P2(StatusIs, code, substring,
           std::string("status ") + absl::StatusCodeToString(code) + " containing \"" +
               std::string(substring) + "\"") {
  const absl::Status& s = internal::GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.code() == code && s.message().find(substring) != absl::string_view::npos;
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = internal::GetStatus(arg);
  *result_listener << "status is " << s.ToString();
  return s.ok();
}

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_STATUS_MATCHERS_H_
