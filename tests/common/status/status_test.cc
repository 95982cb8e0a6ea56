#include "common/status/status.h"

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace trustfabric {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("x: odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  TF_ASSIGN_OR_RETURN(int h, Half(x));
  TF_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  TF_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusMacros, AssignOrReturnPropagatesValueAndError) {
  EXPECT_EQ(*Quarter(8), 2);
  absl::StatusOr<int> bad = Quarter(6);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "x: odd");
}

TEST(StatusMacros, ReturnIfError) {
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), absl::StatusCode::kInvalidArgument);
}

TEST(Annotate, PrefixesContextAndKeepsCode) {
  absl::Status s = Annotate(absl::NotFoundError("no such root"), "peers[0]");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "peers[0]: no such root");
  EXPECT_TRUE(Annotate(absl::OkStatus(), "x").ok());
}

TEST(CodeName, LowerCase) {
  EXPECT_EQ(CodeName(absl::StatusCode::kPermissionDenied), "permission_denied");
}

}  // namespace
}  // namespace trustfabric
