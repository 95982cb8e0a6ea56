#include "client/devcluster/cluster_bootstrap.h"

#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/devcluster/cluster_config.h"
#include "client/devcluster/cluster_token.h"
#include "common/status/atomic_file.h"
#include "common/token/verifier.h"
#include "common/trust/admission.h"
#include "common/trust/snapshot.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/client/devcluster/shared_cluster_test.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::devcluster {
namespace {

std::string Pem(const std::string& path) {
  absl::StatusOr<std::string> pem = ReadFileLimited(path, 1 << 20);
  EXPECT_TRUE(pem.ok()) << pem.status();
  return pem.ok() ? *pem : "";
}

v1::TrustChange ChangeOf(const BootstrapMutation& m) {
  v1::TrustChange change;
  if (const auto* root = std::get_if<v1::AddRootAuthorityRequest>(&m.request)) {
    *change.mutable_put_root() = root->root();
  } else if (const auto* issuer = std::get_if<v1::AddTokenIssuerRequest>(&m.request)) {
    *change.mutable_put_issuer() = issuer->issuer();
  } else {
    *change.mutable_put_peer() = std::get<v1::PutFederationPeerRequest>(m.request).peer();
  }
  return change;
}

const v1::MutationOptions& OptionsOf(const BootstrapMutation& m) {
  if (const auto* root = std::get_if<v1::AddRootAuthorityRequest>(&m.request)) {
    return root->options();
  }
  if (const auto* issuer = std::get_if<v1::AddTokenIssuerRequest>(&m.request)) {
    return issuer->options();
  }
  return std::get<v1::PutFederationPeerRequest>(m.request).options();
}

class ClusterBootstrapTest : public SharedClusterTest<ClusterBootstrapTest> {
 protected:
  static void SetUpTestSuite() {
    ClusterConfigOptions options;
    options.subnet = 42;
    WriteSharedCluster(options);
  }

  // The snapshot a freshly seeded control plane of `d` holds (revision 1).
  static std::shared_ptr<const trust::TrustSnapshot> Seeded(const ClusterDomain& d) {
    v1::TrustSnapshot proto;
    proto.set_revision(1);
    proto.set_trust_domain(d.domain());
    proto.set_realm(d.realm());
    v1::RootAuthority* seed = proto.add_roots();
    seed->set_name(d.root_name());
    seed->set_trust_domain(d.domain());
    seed->set_certificates_pem(Pem(d.root()));
    seed->add_purposes(v1::MTLS);
    seed->add_purposes(v1::TOKEN_SIGNING);
    absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> s =
        trust::TrustSnapshot::Create(proto);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : nullptr;
  }

  // Applies `plan` as the control plane would: admission, then the change.
  static std::shared_ptr<const trust::TrustSnapshot> Apply(
      std::shared_ptr<const trust::TrustSnapshot> current,
      const std::vector<BootstrapMutation>& plan) {
    trust::AdmissionOptions admission;
    admission.now = absl::Now();
    for (const BootstrapMutation& m : plan) {
      const v1::TrustChange change = ChangeOf(m);
      absl::Status admitted = trust::CheckAdmission(*current, change, admission);
      EXPECT_TRUE(admitted.ok()) << m.what << ": " << admitted;
      if (!admitted.ok()) return current;
      v1::TrustSnapshot next = current->proto();
      next.set_revision(next.revision() + 1);
      if (change.has_put_root()) *next.add_roots() = change.put_root();
      if (change.has_put_issuer()) *next.add_issuers() = change.put_issuer();
      if (change.has_put_peer()) {
        next.clear_peers();
        *next.add_peers() = change.put_peer();
      }
      absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> built =
          trust::TrustSnapshot::Create(next);
      EXPECT_TRUE(built.ok()) << m.what << ": " << built.status();
      if (!built.ok()) return current;
      current = *built;
    }
    return current;
  }
};

TEST_F(ClusterBootstrapTest, PlansRootsIssuersAndPeerInOrder) {
  const ClusterDomain& contoso = *FindDomain(*layout_, "contoso.test");
  const ClusterDomain& fabrikam = *FindDomain(*layout_, "fabrikam.test");
  absl::StatusOr<std::vector<BootstrapMutation>> plan =
      BootstrapPlan(*layout_, contoso, BootstrapOptions());
  ASSERT_THAT(plan.status(), IsOk());
  ASSERT_THAT(*plan, SizeIs(5));

  const auto& partner_root = std::get<v1::AddRootAuthorityRequest>((*plan)[0].request).root();
  EXPECT_EQ(partner_root.name(), "fabrikam-root");
  EXPECT_EQ(partner_root.trust_domain(), "fabrikam.test");
  EXPECT_EQ(partner_root.certificates_pem(), Pem(fabrikam.root()));
  EXPECT_THAT(partner_root.purposes(), ElementsAre(v1::MTLS));

  const ClusterApp& app1 = *FindApp(contoso, "app1");
  const auto& signing = std::get<v1::AddRootAuthorityRequest>((*plan)[1].request).root();
  EXPECT_EQ(signing.name(), "app1-signing");
  EXPECT_EQ(signing.trust_domain(), "contoso.test");
  EXPECT_EQ(signing.certificates_pem(), Pem(app1.cert()));
  EXPECT_THAT(signing.purposes(), ElementsAre(v1::TOKEN_SIGNING));

  for (size_t i : {2u, 3u}) {
    const ClusterApp& app = *FindApp(contoso, i == 2 ? "app1" : "app2");
    const auto& issuer = std::get<v1::AddTokenIssuerRequest>((*plan)[i].request).issuer();
    EXPECT_EQ(issuer.name(), app.name());
    EXPECT_EQ(issuer.registered_issuer_name(), absl::StrCat(app.client_id(), "@", contoso.realm()));
    EXPECT_THAT(issuer.signing_certificates_pem(), ElementsAre(Pem(app.cert())));
    EXPECT_THAT(issuer.algorithms(), ElementsAre(v1::RS256));
    EXPECT_TRUE(issuer.allow_user_delegation());
    EXPECT_FALSE(issuer.trust_broker());
  }

  const auto& peer = std::get<v1::PutFederationPeerRequest>((*plan)[4].request).peer();
  EXPECT_EQ(peer.trust_domain(), "fabrikam.test");
  EXPECT_THAT(peer.root_authority_names(), ElementsAre("fabrikam-root"));
  ASSERT_THAT(peer.endpoints(), SizeIs(1));
  EXPECT_EQ(peer.endpoints(0).address(), "127.42.2.4:7400");
  EXPECT_EQ(peer.endpoints(0).server_name(), "edge1.fabrikam.test");
  EXPECT_THAT(peer.allowed_server_names(), ElementsAre("edge1.fabrikam.test"));
  EXPECT_TRUE(peer.enabled());

  for (const BootstrapMutation& m : *plan) {
    const v1::MutationOptions& o = OptionsOf(m);
    EXPECT_TRUE(o.wait().all_nodes()) << m.what;
    EXPECT_EQ(o.wait().timeout().seconds(), 10) << m.what;
    EXPECT_FALSE(o.has_expected_revision()) << m.what;
  }
}

TEST_F(ClusterBootstrapTest, PlanPassesAdmissionAndIsIdempotentAtTheControlPlane) {
  for (const ClusterDomain& d : layout_->domains()) {
    absl::StatusOr<std::vector<BootstrapMutation>> plan =
        BootstrapPlan(*layout_, d, BootstrapOptions());
    ASSERT_THAT(plan.status(), IsOk());
    std::shared_ptr<const trust::TrustSnapshot> done = Apply(Seeded(d), *plan);
    ASSERT_EQ(done->revision(), 1u + plan->size()) << d.domain();
    // A second run: roots and issuers exist (BootstrapCluster skips those),
    // the peer is put again.
    trust::AdmissionOptions admission;
    admission.now = absl::Now();
    for (const BootstrapMutation& m : *plan) {
      const v1::TrustChange change = ChangeOf(m);
      absl::Status again = trust::CheckAdmission(*done, change, admission);
      if (change.has_put_peer()) {
        EXPECT_THAT(again, IsOk()) << m.what;
      } else {
        EXPECT_THAT(again, StatusIs(absl::StatusCode::kAlreadyExists, "")) << m.what;
      }
    }
  }
}

TEST_F(ClusterBootstrapTest, MintedUserTokensVerifyAtTheFrontEndAfterBootstrap) {
  for (const ClusterDomain& d : layout_->domains()) {
    absl::StatusOr<std::vector<BootstrapMutation>> plan =
        BootstrapPlan(*layout_, d, BootstrapOptions());
    ASSERT_THAT(plan.status(), IsOk());
    std::shared_ptr<const trust::TrustSnapshot> seeded = Seeded(d);
    std::shared_ptr<const trust::TrustSnapshot> done = Apply(seeded, *plan);
    token::VerifierOptions options;
    options.hosts = {d.frontend().server_name()};
    absl::StatusOr<std::unique_ptr<token::TokenVerifier>> verifier =
        token::TokenVerifier::Create(options);
    ASSERT_THAT(verifier.status(), IsOk());
    for (const ClusterApp& app : d.apps()) {
      const std::string user = absl::StrCat("alice@", d.domain());
      absl::StatusOr<std::string> token = MintClusterUserToken(d, app, user);
      ASSERT_THAT(token.status(), IsOk());
      absl::StatusOr<token::TokenIdentity> who = (*verifier)->Verify(*token, done);
      ASSERT_THAT(who.status(), IsOk()) << d.domain() << " " << app.name();
      EXPECT_EQ(who->kind, token::TokenKind::kUserAndApp);
      ASSERT_TRUE(who->user.has_value());
      EXPECT_EQ(who->user->upn, user);
      EXPECT_EQ(who->client_id, app.client_id());
      EXPECT_EQ(who->host, d.frontend().server_name());
      // Before bootstrap no issuer is registered.
      EXPECT_THAT((*verifier)->Verify(*token, seeded).status(),
                  StatusIs(absl::StatusCode::kUnauthenticated, ""));
    }
    // A token for another front-end is refused.
    absl::StatusOr<std::string> elsewhere =
        MintClusterUserToken(d, d.apps(0), "alice@" + d.domain(), "fe9." + d.domain());
    ASSERT_THAT(elsewhere.status(), IsOk());
    EXPECT_THAT((*verifier)->Verify(*elsewhere, done).status(),
                StatusIs(absl::StatusCode::kUnauthenticated, "audience"));
  }
}

TEST_F(ClusterBootstrapTest, PlanNeedsThePartner) {
  ClusterLayout alone = *layout_;
  alone.mutable_domains()->RemoveLast();
  EXPECT_THAT(BootstrapPlan(alone, alone.domains(0), BootstrapOptions()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "partner fabrikam.test"));
  ClusterLayout missing = *layout_;
  missing.mutable_domains(1)->set_root(dir_->path() + "/nope.crt");
  EXPECT_THAT(BootstrapPlan(missing, missing.domains(0), BootstrapOptions()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, "nope.crt"));
}

}  // namespace
}  // namespace trustfabric::devcluster
