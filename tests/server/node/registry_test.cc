#include "server/node/registry.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::StatusIs;

TEST(Registry, RegisterLookupMoveUnregister) {
  Registry r("contoso.test", "");
  ASSERT_THAT(r.Register("alice@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
  auto found = r.Lookup("alice@contoso.test");
  ASSERT_THAT(found, IsOk());
  EXPECT_EQ(found->frontend, "fe1.contoso.test");
  EXPECT_EQ(found->frontend_address, "127.0.0.1:1");
  // Signing in at another front-end moves the user.
  ASSERT_THAT(r.Register("alice@contoso.test", "fe2.contoso.test", "127.0.0.1:2"), IsOk());
  EXPECT_EQ(r.Lookup("alice@contoso.test")->frontend, "fe2.contoso.test");
  EXPECT_EQ(r.size(), 1u);
  ASSERT_THAT(r.Unregister("alice@contoso.test"), IsOk());
  EXPECT_THAT(r.Lookup("alice@contoso.test"),
              StatusIs(absl::StatusCode::kNotFound, "user alice@contoso.test is not registered"));
  EXPECT_THAT(r.Unregister("alice@contoso.test"), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST(Registry, BadUsersAreRefusedNamingTheField) {
  Registry r("contoso.test", "");
  EXPECT_THAT(r.Register("bob@fabrikam.test", "fe1.contoso.test", "a:1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "user: bob@fabrikam.test is not in trust domain contoso.test"));
  EXPECT_THAT(r.Register("Alice@contoso.test", "fe1.contoso.test", "a:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "user: user name may contain only"));
  EXPECT_THAT(r.Register("alice", "fe1.contoso.test", "a:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "user: expected <name>@<trust-domain>"));
  EXPECT_THAT(r.Register("@contoso.test", "fe1.contoso.test", "a:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "user:"));
  EXPECT_THAT(r.Register("alice@contoso.test", "not a name", "a:1"),
              StatusIs(absl::StatusCode::kInvalidArgument, "frontend: not a valid dns name"));
  EXPECT_THAT(r.Register("alice@contoso.test", "fe1.contoso.test", ""),
              StatusIs(absl::StatusCode::kFailedPrecondition, "no address is configured"));
  EXPECT_EQ(r.size(), 0u);
}

TEST(Registry, FullTableIsResourceExhausted) {
  Registry r("contoso.test", "", 2);
  ASSERT_THAT(r.Register("a@contoso.test", "fe1.contoso.test", "x:1"), IsOk());
  ASSERT_THAT(r.Register("b@contoso.test", "fe1.contoso.test", "x:1"), IsOk());
  EXPECT_THAT(r.Register("c@contoso.test", "fe1.contoso.test", "x:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, "registrar is full (2 users)"));
  // Moving an existing user still works when full.
  EXPECT_THAT(r.Register("a@contoso.test", "fe2.contoso.test", "x:2"), IsOk());
}

TEST(Registry, RegistrationsSurviveRestart) {
  testing::TempDir dir;
  {
    Registry r("contoso.test", dir.path());
    ASSERT_THAT(r.Load(), IsOk());
    ASSERT_THAT(r.Register("alice@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
    ASSERT_THAT(r.Register("carol@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
    ASSERT_THAT(r.Unregister("carol@contoso.test"), IsOk());
  }
  Registry again("contoso.test", dir.path());
  ASSERT_THAT(again.Load(), IsOk());
  EXPECT_EQ(again.size(), 1u);
  EXPECT_EQ(again.Lookup("alice@contoso.test")->frontend_address, "127.0.0.1:1");
}

TEST(Registry, CorruptStateFileIsRefusedClearly) {
  testing::TempDir dir;
  dir.Write("registrations.json", "{\"users\": [ {\"user\": 5} ]}");
  Registry r("contoso.test", dir.path());
  EXPECT_THAT(r.Load(),
              StatusIs(absl::StatusCode::kInvalidArgument, "malformed registration entry"));
  dir.Write("registrations.json", "not json");
  EXPECT_THAT(r.Load(), StatusIs(absl::StatusCode::kInvalidArgument, "not a registrations file"));
  dir.Write("registrations.json",
            "{\"users\": [ {\"user\": \"x@other.test\", \"frontend\": \"fe1.contoso.test\", "
            "\"frontend_address\": \"a:1\", \"registered_at\": 1} ]}");
  EXPECT_THAT(r.Load(), StatusIs(absl::StatusCode::kInvalidArgument, "not in trust domain"));
}

}  // namespace
}  // namespace trustfabric::node
