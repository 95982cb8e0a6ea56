#include "common/tls/policy.h"

#include <google/protobuf/descriptor.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::tls {
namespace {

using ::trustfabric::testing::IsOk;
using ::trustfabric::testing::StatusIs;

PeerIdentity Peer(const std::string& domain, pki::Role role) {
  PeerIdentity p;
  p.spiffe_id = {domain, role, "n1"};
  return p;
}

constexpr char kRelay[] = "/trustfabric.v1.Edge/Relay";

TEST(Policy, LocalFrontendMayRelayPartnerEdgeToo) {
  EXPECT_THAT(Authorize(kRelay, Peer("contoso.test", pki::Role::kFrontend), "contoso.test"),
              IsOk());
  EXPECT_THAT(Authorize(kRelay, Peer("fabrikam.test", pki::Role::kEdge), "contoso.test"), IsOk());
}

TEST(Policy, WrongRoleOrDomainIsDenied) {
  EXPECT_THAT(Authorize(kRelay, Peer("contoso.test", pki::Role::kRegistrar), "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "policy: role registrar of contoso.test may not call "
                       "/trustfabric.v1.Edge/Relay (allowed: frontend)"));
  // A partner front-end must go through its own edge.
  EXPECT_THAT(Authorize(kRelay, Peer("fabrikam.test", pki::Role::kFrontend), "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied, "allowed: edge"));
  // Partners never reach the admin API or the registrar.
  EXPECT_THAT(Authorize("/trustfabric.v1.ControlPlane/AddRootAuthority",
                        Peer("fabrikam.test", pki::Role::kAdmin), "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "policy: partner domain fabrikam.test may not call"));
  EXPECT_THAT(Authorize("/trustfabric.v1.Registrar/Lookup", Peer("fabrikam.test", pki::Role::kEdge),
                        "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied, "partner domain"));
}

TEST(Policy, AdminApiIsForLocalAdminsOnly) {
  // A mutation, and the revocation listing (an admin read like the others):
  // the local admin may call them, another local role may not.
  const struct {
    const char* method;
    pki::Role other_role;
  } cases[] = {
      {"/trustfabric.v1.ControlPlane/RevokeCertificate", pki::Role::kEdge},
      {"/trustfabric.v1.ControlPlane/ListRevocations", pki::Role::kFrontend},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.method);
    EXPECT_THAT(Authorize(c.method, Peer("contoso.test", pki::Role::kAdmin), "contoso.test"),
                IsOk());
    EXPECT_THAT(Authorize(c.method, Peer("contoso.test", c.other_role), "contoso.test"),
                StatusIs(absl::StatusCode::kPermissionDenied, "allowed: admin"));
  }
}

TEST(Policy, UnknownMethodIsDenied) {
  EXPECT_THAT(Authorize("/trustfabric.v1.Edge/Nope", Peer("contoso.test", pki::Role::kAdmin),
                        "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "policy: unknown method /trustfabric.v1.Edge/Nope"));
  EXPECT_THAT(Authorize("", Peer("contoso.test", pki::Role::kAdmin), "contoso.test"),
              StatusIs(absl::StatusCode::kPermissionDenied, "unknown method"));
}

TEST(Policy, EveryNodeToNodeMethodHasARule) {
  // A method added to a .proto without a rule would be denied to everyone;
  // this keeps the table and the services in step. FrontEnd's client methods
  // are served on the bearer-token listener, outside this table.
  for (const google::protobuf::FileDescriptor* file :
       {v1::WatchRequest::descriptor()->file(), v1::RelayRequest::descriptor()->file()}) {
    ASSERT_GT(file->service_count(), 0) << file->name();
    for (int si = 0; si < file->service_count(); ++si) {
      const google::protobuf::ServiceDescriptor* d = file->service(si);
      for (int i = 0; i < d->method_count(); ++i) {
        const std::string method = "/" + d->full_name() + "/" + d->method(i)->name();
        if (d->name() == "FrontEnd" && d->method(i)->name() != "Deliver") continue;
        bool found = false;
        for (const MethodRule& rule : PolicyTable()) found |= rule.method == method;
        EXPECT_TRUE(found) << method;
      }
    }
  }
}

}  // namespace
}  // namespace trustfabric::tls
