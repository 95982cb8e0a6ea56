// Registrar: who may change which registration, without gRPC. The caller is
// the verified peer the internal listener would hand over.
#include "server/node/registrar.h"

#include <string>

#include "common/tls/rejections.h"
#include "gtest/gtest.h"
#include "tests/server/node/scripted_node_calls.h"
#include "tests/testing/status_matchers.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::StatusIs;

constexpr char kDave[] = "dave@contoso.test";

tls::PeerIdentity FrontEnd(const std::string& name) {
  return testing::NodePeer("contoso.test", pki::Role::kFrontend, name);
}

class RegistrarTest : public ::testing::Test {
 protected:
  RegistrarTest() {
    config_.set_trust_domain("contoso.test");
    (*config_.mutable_addresses())["fe1.contoso.test"] = "127.0.0.21:7443";
    (*config_.mutable_addresses())["fe2.contoso.test"] = "127.0.0.22:7443";
  }

  std::string FrontEndOf(const std::string& user) const {
    absl::StatusOr<Registration> r = registrar_.Lookup(user);
    return r.ok() ? r->frontend : std::string(r.status().message());
  }

  v1::NodeConfig config_;
  Registry registry_{"contoso.test", ""};
  Registrar registrar_{&registry_, &config_};
};

TEST_F(RegistrarTest, RegistersTheCallerAtItsConfiguredAddress) {
  ASSERT_THAT(registrar_.Register(FrontEnd("fe1"), kDave, ""), IsOk());
  absl::StatusOr<Registration> r = registrar_.Lookup(kDave);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->user, kDave);
  EXPECT_EQ(r->frontend, "fe1.contoso.test");
  EXPECT_EQ(r->frontend_address, "127.0.0.21:7443");
  // Naming itself is the same as naming no front-end.
  EXPECT_THAT(registrar_.Register(FrontEnd("fe1"), kDave, "fe1.contoso.test"), IsOk());
  EXPECT_EQ(FrontEndOf(kDave), "fe1.contoso.test");
}

TEST_F(RegistrarTest, AFrontEndRegistersUsersForItselfOnly) {
  ASSERT_THAT(registrar_.Register(FrontEnd("fe1"), kDave, ""), IsOk());
  absl::Status s = registrar_.Register(FrontEnd("fe2"), kDave, "fe1.contoso.test");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(), "frontend: fe2.contoso.test may not register users for fe1.contoso.test");
  s = registrar_.Register(FrontEnd("fe1"), "erin@contoso.test", "fe2.contoso.test");
  EXPECT_EQ(s.message(), "frontend: fe1.contoso.test may not register users for fe2.contoso.test");
  EXPECT_EQ(FrontEndOf("erin@contoso.test"), "user erin@contoso.test is not registered");
  EXPECT_EQ(FrontEndOf(kDave), "fe1.contoso.test");

  // Recorded as a rejection of the caller on the internal listener.
  bool recorded = false;
  for (const tls::Rejection& r : tls::RecentRejections()) {
    if (r.method == "/trustfabric.v1.Registrar/Register" && r.peer == FrontEnd("fe2").Describe() &&
        r.listener == "internal") {
      recorded = true;
      EXPECT_EQ(r.code, absl::StatusCode::kPermissionDenied);
    }
  }
  EXPECT_TRUE(recorded);
}

TEST_F(RegistrarTest, ANewerSignInAtAnotherFrontEndTakesTheUserOver) {
  ASSERT_THAT(registrar_.Register(FrontEnd("fe1"), kDave, ""), IsOk());
  ASSERT_THAT(registrar_.Register(FrontEnd("fe2"), kDave, ""), IsOk());
  absl::StatusOr<Registration> r = registrar_.Lookup(kDave);
  ASSERT_THAT(r.status(), IsOk());
  EXPECT_EQ(r->frontend, "fe2.contoso.test");
  EXPECT_EQ(r->frontend_address, "127.0.0.22:7443");

  // fe1 is now the other front-end: it may not drop dave.
  absl::Status s = registrar_.Unregister(FrontEnd("fe1"), kDave);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kPermissionDenied, ""));
  EXPECT_EQ(s.message(),
            "user dave@contoso.test is served by fe2.contoso.test, not fe1.contoso.test");
  EXPECT_EQ(FrontEndOf(kDave), "fe2.contoso.test");

  ASSERT_THAT(registrar_.Unregister(FrontEnd("fe2"), kDave), IsOk());
  EXPECT_THAT(registrar_.Lookup(kDave).status(), StatusIs(absl::StatusCode::kNotFound, ""));
}

TEST_F(RegistrarTest, UnregisterOfAnUnknownUserIsNotFound) {
  absl::Status s = registrar_.Unregister(FrontEnd("fe1"), kDave);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, ""));
  EXPECT_EQ(s.message(), "user dave@contoso.test is not registered");
}

TEST_F(RegistrarTest, AFrontEndWithoutAConfiguredAddressCannotRegister) {
  absl::Status s = registrar_.Register(FrontEnd("fe3"), kDave, "");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kFailedPrecondition, ""));
  EXPECT_EQ(s.message(),
            "frontend: no address configured for fe3.contoso.test (addresses.fe3.contoso.test)");
  EXPECT_EQ(registry_.size(), 0u);
}

TEST_F(RegistrarTest, UsersOfAnotherDomainAreRefusedByTheRegistry) {
  EXPECT_THAT(registrar_.Register(FrontEnd("fe1"), "bob@fabrikam.test", ""),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "user: bob@fabrikam.test is not in trust domain contoso.test"));
  EXPECT_EQ(registry_.size(), 0u);
}

}  // namespace
}  // namespace trustfabric::node
