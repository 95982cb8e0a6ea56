#include "server/node/registry.h"

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::StatusIs;

// A registry in memory with these bounds (0: the default), holding a@ and
// b@contoso.test at fe1.contoso.test.
std::unique_ptr<Registry> TwoAtFe1(size_t max_users, size_t max_users_per_frontend) {
  RegistryLimits limits;
  limits.max_users = max_users;
  limits.max_users_per_frontend = max_users_per_frontend;
  auto r = std::make_unique<Registry>("contoso.test", "", limits);
  for (const char* user : {"a@contoso.test", "b@contoso.test"}) {
    EXPECT_THAT(r->Register(user, "fe1.contoso.test", "x:1"), IsOk());
  }
  return r;
}

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
  std::unique_ptr<Registry> r = TwoAtFe1(/*max_users=*/2, 0);
  EXPECT_THAT(r->Register("c@contoso.test", "fe1.contoso.test", "x:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, "registrar is full (2 users)"));
  // Moving an existing user still works when full.
  EXPECT_THAT(r->Register("a@contoso.test", "fe2.contoso.test", "x:2"), IsOk());
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

TEST(Registry, EachFrontEndHasItsOwnBound) {
  std::unique_ptr<Registry> r = TwoAtFe1(0, /*max_users_per_frontend=*/2);
  EXPECT_THAT(r->Register("c@contoso.test", "fe1.contoso.test", "x:1"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "frontend: fe1.contoso.test has 2 users registered, the most it may have "
                       "(registrations.max_users_per_frontend)"));
  // A user already there signs in again; another front-end is not affected.
  EXPECT_THAT(r->Register("a@contoso.test", "fe1.contoso.test", "x:1"), IsOk());
  ASSERT_THAT(r->Register("c@contoso.test", "fe2.contoso.test", "x:2"), IsOk());
  // Moving a user onto the full front-end is refused and leaves it where it was.
  EXPECT_THAT(r->Register("c@contoso.test", "fe1.contoso.test", "x:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, "fe1.contoso.test has 2 users"));
  EXPECT_EQ(r->Lookup("c@contoso.test")->frontend, "fe2.contoso.test");
  // Leaving makes room: by unregistering or by moving away.
  ASSERT_THAT(r->Register("a@contoso.test", "fe2.contoso.test", "x:2"), IsOk());
  EXPECT_EQ(r->users_of("fe1.contoso.test"), 1u);
  EXPECT_EQ(r->users_of("fe2.contoso.test"), 2u);
  EXPECT_THAT(r->Register("c@contoso.test", "fe1.contoso.test", "x:1"), IsOk());
  ASSERT_THAT(r->Unregister("b@contoso.test"), IsOk());
  EXPECT_THAT(r->Register("d@contoso.test", "fe1.contoso.test", "x:1"), IsOk());
}

TEST(Registry, TheDatabaseKeepsEveryChangeAcrossReopen) {
  testing::TempDir dir;
  RegistryLimits limits;
  limits.max_users_per_frontend = 2;
  {
    Registry r("contoso.test", dir.path(), limits);
    ASSERT_THAT(r.Load(), IsOk());
    ASSERT_THAT(r.Register("alice@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
    ASSERT_THAT(r.Register("bob@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
    ASSERT_THAT(r.Register("bob@contoso.test", "fe2.contoso.test", "127.0.0.1:2"), IsOk());
  }
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/registrations.db"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/registrations.json"));
  Registry again("contoso.test", dir.path(), limits);
  ASSERT_THAT(again.Load(), IsOk());
  EXPECT_EQ(again.size(), 2u);
  EXPECT_EQ(again.Lookup("bob@contoso.test")->frontend, "fe2.contoso.test");
  EXPECT_EQ(again.Lookup("bob@contoso.test")->frontend_address, "127.0.0.1:2");
  // The per-front-end counts are rebuilt from the database.
  EXPECT_EQ(again.users_of("fe1.contoso.test"), 1u);
  ASSERT_THAT(again.Register("carol@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
  EXPECT_THAT(again.Register("dave@contoso.test", "fe1.contoso.test", "127.0.0.1:1"),
              StatusIs(absl::StatusCode::kResourceExhausted, "fe1.contoso.test has 2 users"));
}

TEST(Registry, AnOldRegistrationsFileIsImportedAndRenamedAside) {
  testing::TempDir dir;
  dir.Write("registrations.json",
            "{\"users\": ["
            "{\"user\": \"alice@contoso.test\", \"frontend\": \"fe1.contoso.test\", "
            "\"frontend_address\": \"127.0.0.1:1\", \"registered_at\": 1700000000},"
            "{\"user\": \"bob@contoso.test\", \"frontend\": \"fe2.contoso.test\", "
            "\"frontend_address\": \"127.0.0.1:2\", \"registered_at\": 1700000001}]}");
  {
    Registry r("contoso.test", dir.path());
    ASSERT_THAT(r.Load(), IsOk());
    EXPECT_EQ(r.size(), 2u);
    absl::StatusOr<Registration> alice = r.Lookup("alice@contoso.test");
    ASSERT_THAT(alice, IsOk());
    EXPECT_EQ(alice->frontend_address, "127.0.0.1:1");
    EXPECT_EQ(alice->registered_at, absl::FromUnixSeconds(1700000000));
    ASSERT_THAT(r.Unregister("bob@contoso.test"), IsOk());
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/registrations.json"));
  EXPECT_TRUE(std::filesystem::exists(dir.path() + "/registrations.json.migrated"));
  // Imported once: a restart reads the database, where bob is gone.
  Registry again("contoso.test", dir.path());
  ASSERT_THAT(again.Load(), IsOk());
  EXPECT_EQ(again.size(), 1u);
  EXPECT_EQ(again.Lookup("alice@contoso.test")->frontend, "fe1.contoso.test");
  EXPECT_THAT(again.Lookup("bob@contoso.test"), StatusIs(absl::StatusCode::kNotFound, ""));
}

// A lookup never waits for a change being written: with a sign-in held
// inside its write (the writer lock taken, the row not yet written), lookups
// of other users and of the same user answer, from the state before it.
TEST(Registry, ALookupProceedsWhileAWriteIsBlocked) {
  testing::TempDir dir;
  Registry r("contoso.test", dir.path());
  ASSERT_THAT(r.Load(), IsOk());
  ASSERT_THAT(r.Register("alice@contoso.test", "fe1.contoso.test", "127.0.0.1:1"), IsOk());
  absl::Notification writing;
  absl::Notification release;
  r.set_before_write([&] {
    writing.Notify();
    release.WaitForNotification();
  });
  absl::Status moved;
  std::thread signin(
      [&] { moved = r.Register("alice@contoso.test", "fe2.contoso.test", "127.0.0.1:2"); });
  writing.WaitForNotification();
  absl::StatusOr<Registration> during = r.Lookup("alice@contoso.test");
  ASSERT_THAT(during, IsOk());
  EXPECT_EQ(during->frontend, "fe1.contoso.test");
  EXPECT_THAT(r.Lookup("bob@contoso.test"), StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(r.size(), 1u);
  release.Notify();
  signin.join();
  ASSERT_THAT(moved, IsOk());
  EXPECT_EQ(r.Lookup("alice@contoso.test")->frontend, "fe2.contoso.test");
}

}  // namespace
}  // namespace trustfabric::node
