#include "common/pki/spiffe.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(PkiRole, NamesRoundTrip) {
  for (Role r : {Role::kEdge, Role::kFrontend, Role::kRegistrar, Role::kControl, Role::kAdmin}) {
    ASSERT_TRUE(RoleFromName(RoleName(r)).has_value());
    EXPECT_EQ(*RoleFromName(RoleName(r)), r);
  }
  EXPECT_EQ(RoleName(Role::kFrontend), "frontend");
  EXPECT_FALSE(RoleFromName("Frontend").has_value());
  EXPECT_FALSE(RoleFromName("").has_value());
}

TEST(PkiParseSpiffeId, AcceptsWellFormedIds) {
  absl::StatusOr<SpiffeId> id = ParseSpiffeId("spiffe://contoso.test/frontend/fe1");
  ASSERT_THAT(id, IsOk());
  EXPECT_EQ(id->trust_domain, "contoso.test");
  EXPECT_EQ(id->role, Role::kFrontend);
  EXPECT_EQ(id->name, "fe1");
  EXPECT_EQ(id->ToString(), "spiffe://contoso.test/frontend/fe1");

  EXPECT_THAT(ParseSpiffeId("spiffe://a-b.example.test/admin/admin_1.x-y"), IsOk());
  EXPECT_THAT(ParseSpiffeId("spiffe://contoso.test/control/" + std::string(63, 'a')), IsOk());
  for (const char* role : {"edge", "frontend", "registrar", "control", "admin"}) {
    EXPECT_THAT(ParseSpiffeId(std::string("spiffe://contoso.test/") + role + "/n1"), IsOk());
  }
}

TEST(PkiParseSpiffeId, RoundTripsThroughToString) {
  SpiffeId id{"fabrikam.test", Role::kEdge, "edge1"};
  absl::StatusOr<SpiffeId> parsed = ParseSpiffeId(id.ToString());
  ASSERT_THAT(parsed, IsOk());
  EXPECT_EQ(*parsed, id);
}

struct BadCase {
  std::string uri;
  std::string reason;
};

class PkiParseSpiffeIdRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(PkiParseSpiffeIdRejects, WithReason) {
  EXPECT_THAT(ParseSpiffeId(GetParam().uri), StatusIs(kInvalid, GetParam().reason))
      << GetParam().uri;
}

INSTANTIATE_TEST_SUITE_P(
    Strictness, PkiParseSpiffeIdRejects,
    ::testing::Values(
        BadCase{"", "spiffe id: empty"},
        BadCase{"SPIFFE://contoso.test/frontend/fe1", "scheme must be"},
        BadCase{"spiffe:/contoso.test/frontend/fe1", "scheme must be"},
        BadCase{"https://contoso.test/frontend/fe1", "scheme must be"},
        BadCase{"spiffe://contoso.test", "missing path"},
        BadCase{"spiffe://contoso.test/", "empty path segment"},
        BadCase{"spiffe://contoso.test/frontend", "got 1 segments"},
        BadCase{"spiffe://contoso.test/frontend/", "empty path segment"},
        BadCase{"spiffe://contoso.test/frontend/fe1/", "empty path segment"},
        BadCase{"spiffe://contoso.test/frontend/fe1/extra", "got 3 segments"},
        BadCase{"spiffe://contoso.test//fe1", "empty path segment"},
        BadCase{"spiffe://contoso.test/./fe1", "dot path segment"},
        BadCase{"spiffe://contoso.test/frontend/..", "dot path segment"},
        BadCase{"spiffe://contoso.test/frontend/.", "dot path segment"},
        BadCase{"spiffe:///frontend/fe1", "missing trust domain"},
        BadCase{"spiffe://Contoso.test/frontend/fe1", "trust domain \"Contoso.test\""},
        BadCase{"spiffe://localhost/frontend/fe1", "not a valid lower-case dns name"},
        BadCase{"spiffe://-contoso.test/frontend/fe1", "not a valid lower-case dns name"},
        BadCase{"spiffe://contoso.test./frontend/fe1", "not a valid lower-case dns name"},
        BadCase{"spiffe://contoso..test/frontend/fe1", "not a valid lower-case dns name"},
        BadCase{"spiffe://contoso_x.test/frontend/fe1", "not a valid lower-case dns name"},
        BadCase{"spiffe://admin@contoso.test/frontend/fe1", "userinfo is not allowed"},
        BadCase{"spiffe://contoso.test:8443/frontend/fe1", "port is not allowed"},
        BadCase{"spiffe://contoso.test/frontend/fe1?x=1", "query is not allowed"},
        BadCase{"spiffe://contoso.test/frontend/fe1#frag", "fragment is not allowed"},
        BadCase{"spiffe://contoso.test/frontend/f%65", "percent-encoding is not allowed"},
        BadCase{"spiffe://contoso.test/web/fe1", "unknown role \"web\""},
        BadCase{"spiffe://contoso.test/Frontend/fe1", "unknown role \"Frontend\""},
        BadCase{"spiffe://contoso.test/frontend/FE1", "name must match [a-z0-9._-]"},
        BadCase{"spiffe://contoso.test/frontend/fe 1", "name must match"},
        BadCase{std::string("spiffe://contoso.test/frontend/fe\0x", 35), "name must match"},
        BadCase{std::string("spiffe://contoso.test/fr\x01ntend/fe1"), "unknown role (unprintable)"},
        BadCase{"spiffe://contoso.test/frontend/" + std::string(64, 'a'), "name longer than 63"},
        BadCase{"spiffe://contoso.test/frontend/" + std::string(2100, 'a'),
                "longer than 2048 bytes"}));

TEST(PkiIsValidDnsName, Rules) {
  EXPECT_TRUE(IsValidDnsName("contoso.test"));
  EXPECT_TRUE(IsValidDnsName("fe1.contoso.test"));
  EXPECT_TRUE(IsValidDnsName("a-1.b"));
  EXPECT_FALSE(IsValidDnsName(""));
  EXPECT_FALSE(IsValidDnsName("localhost"));
  EXPECT_FALSE(IsValidDnsName("Contoso.test"));
  EXPECT_FALSE(IsValidDnsName("contoso.test."));
  EXPECT_FALSE(IsValidDnsName(".contoso.test"));
  EXPECT_FALSE(IsValidDnsName("a..b"));
  EXPECT_FALSE(IsValidDnsName("-a.b"));
  EXPECT_FALSE(IsValidDnsName("a-.b"));
  EXPECT_FALSE(IsValidDnsName("*.contoso.test"));
  EXPECT_FALSE(IsValidDnsName("a_b.test"));
  EXPECT_TRUE(IsValidDnsName(std::string(63, 'a') + ".test"));
  EXPECT_FALSE(IsValidDnsName(std::string(64, 'a') + ".test"));
  // 4 labels of 63 + 3 dots = 255 > 253.
  const std::string label(63, 'a');
  EXPECT_FALSE(IsValidDnsName(label + "." + label + "." + label + "." + label));
  EXPECT_TRUE(IsValidDnsName(label + "." + label + "." + label + "." + std::string(61, 'a')));
}

}  // namespace
}  // namespace trustfabric::pki
