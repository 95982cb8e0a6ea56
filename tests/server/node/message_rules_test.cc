#include "server/node/message_rules.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::StatusIs;

v1::Message Valid() {
  v1::Message m;
  m.set_id(NewMessageId());
  m.set_from("alice@contoso.test");
  m.set_to("bob@fabrikam.test");
  m.set_body("hello, bob — ünïcödé");
  return m;
}

TEST(MessageRules, ValidMessagePasses) {
  EXPECT_THAT(ValidateMessage(Valid()), IsOk());
  EXPECT_EQ(NewMessageId().size(), 32u);
  EXPECT_NE(NewMessageId(), NewMessageId());
  EXPECT_EQ(DomainOf("bob@fabrikam.test"), "fabrikam.test");
}

TEST(MessageRules, EachFieldIsNamedWhenBad) {
  v1::Message m = Valid();
  m.set_id("");
  EXPECT_THAT(ValidateMessage(m), StatusIs(absl::StatusCode::kInvalidArgument, "message.id:"));
  m = Valid();
  m.set_id("ID WITH SPACES");
  EXPECT_THAT(ValidateMessage(m), StatusIs(absl::StatusCode::kInvalidArgument, "message.id:"));
  m = Valid();
  m.set_from("alice");
  EXPECT_THAT(ValidateMessage(m), StatusIs(absl::StatusCode::kInvalidArgument, "message.from:"));
  m = Valid();
  m.set_to("bob@-bad-.test");
  EXPECT_THAT(ValidateMessage(m), StatusIs(absl::StatusCode::kInvalidArgument, "message.to:"));
  m = Valid();
  m.set_body(std::string(kMaxBodyBytes + 1, 'x'));
  EXPECT_THAT(ValidateMessage(m),
              StatusIs(absl::StatusCode::kInvalidArgument, "message.body: larger than 65536"));
  for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    m = Valid();
    m.set_body(bad);
    EXPECT_THAT(ValidateMessage(m),
                StatusIs(absl::StatusCode::kInvalidArgument, "message.body: not valid utf-8"))
        << bad;
  }
}

}  // namespace
}  // namespace trustfabric::node
