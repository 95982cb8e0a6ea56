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

// Valid() with `field` set to `value`.
v1::Message With(const std::string& field, const std::string& value) {
  v1::Message m = Valid();
  m.GetReflection()->SetString(&m, m.GetDescriptor()->FindFieldByName(field), value);
  return m;
}

TEST(MessageRules, EachFieldIsNamedWhenBad) {
  struct Case {
    std::string field;
    std::string value;
    std::string reason;
  } cases[] = {
      {"id", "", "message.id:"},
      {"id", "ID WITH SPACES", "message.id:"},
      {"from", "alice", "message.from:"},
      {"to", "bob@-bad-.test", "message.to:"},
      {"body", std::string(kMaxBodyBytes + 1, 'x'), "message.body: larger than 65536"},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ValidateMessage(With(c.field, c.value)),
                StatusIs(absl::StatusCode::kInvalidArgument, c.reason))
        << c.field << "=" << c.value.substr(0, 20);
  }
  for (const char* bad : {"\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff"}) {
    EXPECT_THAT(ValidateMessage(With("body", bad)),
                StatusIs(absl::StatusCode::kInvalidArgument, "message.body: not valid utf-8"))
        << bad;
  }
}

}  // namespace
}  // namespace trustfabric::node
