#include "common/trust/delta.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/trust/revocation.h"
#include "common/trust/snapshot.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"

namespace trustfabric::trust {
namespace {

using google::protobuf::util::MessageDifferencer;

std::vector<std::string> RootNames(const v1::TrustSnapshot& proto) {
  std::vector<std::string> names;
  for (const v1::RootAuthority& root : proto.roots()) names.push_back(root.name());
  return names;
}

TEST(ApplyChangesTest, PutAppendsNewAndReplacesExistingInPlace) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  v1::RootAuthority replaced = base.roots(1);
  replaced.add_purposes(v1::MTLS);
  v1::RootAuthority added =
      MakeRoot("northwind-root", "northwind.test", Pki().contoso.RootPem(), {v1::MTLS});
  absl::StatusOr<v1::TrustSnapshot> result =
      ApplyChanges(base, {PutRoot(added), PutRoot(replaced)});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(RootNames(*result),
            (std::vector<std::string>{"contoso-root", "token-root", "addin-root", "fabrikam-root",
                                      "northwind-root"}));
  EXPECT_TRUE(MessageDifferencer::Equals(result->roots(1), replaced));
  EXPECT_EQ(result->revision(), 5u);
  EXPECT_EQ(result->trust_domain(), kDomain);
  EXPECT_EQ(result->realm(), kRealm);
  EXPECT_EQ(result->issuers_size(), base.issuers_size());
  // The base is a value; it is not modified.
  EXPECT_EQ(base.roots_size(), 4);
}

TEST(ApplyChangesTest, PutsByKeyForEveryKind) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  v1::TokenIssuer addin = base.issuers(1);
  addin.set_allow_user_delegation(true);
  v1::FederationPeer fabrikam = base.peers(0);
  fabrikam.set_enabled(false);
  v1::FederationPeer northwind = MakePeer("northwind.test", {"northwind-root"});
  v1::Revocation revocation = MakeRevocation(std::string(64, 'f'));
  absl::StatusOr<v1::TrustSnapshot> result = ApplyChanges(
      base, {PutIssuer(addin), PutPeer(northwind), PutPeer(fabrikam), PutRevocation(revocation)});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->issuers_size(), 3);
  EXPECT_TRUE(result->issuers(1).allow_user_delegation());
  ASSERT_EQ(result->peers_size(), 2);
  EXPECT_FALSE(result->peers(0).enabled());
  EXPECT_EQ(result->peers(1).trust_domain(), "northwind.test");
  ASSERT_EQ(result->revocations_size(), 2);
  EXPECT_EQ(result->revocations(1).sha256_hex(), std::string(64, 'f'));
}

TEST(ApplyChangesTest, RemovesByKeyForEveryKind) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  absl::StatusOr<v1::TrustSnapshot> result = ApplyChanges(
      base, {RemoveIssuer("addin"), RemovePeer(kPartner),
             RemoveRevocation(base.revocations(0).sha256_hex()), RemoveRoot("addin-root")});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(RootNames(*result),
            (std::vector<std::string>{"contoso-root", "token-root", "fabrikam-root"}));
  ASSERT_EQ(result->issuers_size(), 2);
  EXPECT_EQ(result->issuers(0).name(), "hr-app");
  EXPECT_EQ(result->issuers(1).name(), "broker");
  EXPECT_EQ(result->peers_size(), 0);
  EXPECT_EQ(result->revocations_size(), 0);
}

TEST(ApplyChangesTest, AppliesChangesInSequence) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  // Removed, then put again: it comes back at the end.
  absl::StatusOr<v1::TrustSnapshot> result =
      ApplyChanges(base, {RemoveRoot("token-root"), PutRoot(base.roots(1))});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(RootNames(*result), (std::vector<std::string>{"contoso-root", "addin-root",
                                                          "fabrikam-root", "token-root"}));
  // Put, then removed: gone. Removed twice: the second removal fails.
  v1::Revocation revocation = MakeRevocation(std::string(64, 'b'));
  result = ApplyChanges(base, {PutRevocation(revocation), RemoveRevocation(std::string(64, 'b'))});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->revocations_size(), 1);
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemoveIssuer("addin"), RemoveIssuer("addin")}).status()),
            "NOT_FOUND: changes[1]: remove_issuer: issuer addin does not exist");
}

TEST(ApplyChangesTest, RemovingAMissingKeyIsNotFoundNamingIt) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemoveIssuer("addin"), RemoveRoot("nope")}).status()),
            "NOT_FOUND: changes[1]: remove_root: root authority nope does not exist");
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemoveIssuer("payroll")}).status()),
            "NOT_FOUND: changes[0]: remove_issuer: issuer payroll does not exist");
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemovePeer("northwind.test")}).status()),
            "NOT_FOUND: changes[0]: remove_peer: federation peer northwind.test does not exist");
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemoveRevocation(std::string(64, 'c'))}).status()),
            absl::StrCat("NOT_FOUND: changes[0]: remove_revocation: revocation ",
                         std::string(64, 'c'), " does not exist"));
  // A malformed key is quoted and escaped, never echoed raw.
  EXPECT_EQ(StatusText(ApplyChanges(base, {RemoveRoot("a\nb")}).status()),
            "NOT_FOUND: changes[0]: remove_root: root authority \"a\\nb\" does not exist");
}

TEST(ApplyChangesTest, RevocationsAreKeyedByKindAndFeaturesFollowTheContent) {
  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  v1::TrustSnapshot base = ValidSnapshot(5);
  base.add_required_features("revocation.key");  // stale: recomputed from the content
  v1::Revocation by_der = MakeRevocation(cert.Sha256Hex());
  v1::Revocation by_body = CertificateRevocation(cert);  // carries the same sha256_hex
  absl::StatusOr<v1::TrustSnapshot> result =
      ApplyChanges(base, {PutRevocation(by_der), PutRevocation(by_body)});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->revocations_size(), 3);
  EXPECT_EQ(result->revocations(2).kind(), v1::REVOCATION_CERTIFICATE);
  EXPECT_EQ(std::vector<std::string>(result->required_features().begin(),
                                     result->required_features().end()),
            std::vector<std::string>{"revocation.certificate"});
  EXPECT_NE(MustCreate(*result), nullptr);

  // A put with the same key replaces in place; removal is by key.
  by_body.set_reason("superseded");
  result = ApplyChanges(*result, {PutRevocation(by_body), PutRevocation(KeyRevocation(cert))});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->revocations_size(), 4);
  EXPECT_EQ(result->revocations(2).reason(), "superseded");
  EXPECT_EQ(result->required_features_size(), 2);
  result = ApplyChanges(*result, {RemoveRevocation("certificate:" + cert.TbsSha256Hex()),
                                  RemoveRevocation(cert.Sha256Hex())});
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->revocations_size(), 2);
  EXPECT_EQ(RevocationKey(result->revocations(1)), "key:" + cert.SpkiSha256Hex());
  EXPECT_EQ(std::vector<std::string>(result->required_features().begin(),
                                     result->required_features().end()),
            std::vector<std::string>{"revocation.key"});
  EXPECT_EQ(StatusText(ApplyChanges(*result, {RemoveRevocation("key:\x01")}).status()),
            "NOT_FOUND: changes[0]: remove_revocation: revocation \"key:\\x01\" does not exist");
}

TEST(ApplyDeltaTest, TakesTheRequiredFeaturesTheDeltaCarries) {
  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  v1::TrustDelta delta;
  delta.set_base_revision(5);
  delta.set_revision(6);
  *delta.add_changes() = PutRevocation(KeyRevocation(cert));

  // What the control plane said, not what this node computes: a delta that
  // leaves the feature out gives a snapshot Create refuses...
  absl::StatusOr<v1::TrustSnapshot> result = ApplyDelta(ValidSnapshot(5), delta);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->required_features_size(), 0);
  EXPECT_EQ(StatusText(TrustSnapshot::Create(*result).status()),
            "INVALID_ARGUMENT: required_features: revocations[1] needs feature "
            "\"revocation.key\", which is not listed");
  // ...one requiring a feature this node lacks is refused (the NACK)...
  delta.add_required_features("revocation.key");
  delta.add_required_features("revocation.zz-unknown");
  result = ApplyDelta(ValidSnapshot(5), delta);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(StatusText(TrustSnapshot::Create(*result).status()),
            "INVALID_ARGUMENT: required_features: feature \"revocation.zz-unknown\" is not "
            "supported by this node");
  // ...and one listing what the content needs applies.
  delta.clear_required_features();
  delta.add_required_features("revocation.key");
  result = ApplyDelta(ValidSnapshot(5), delta);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(MustCreate(*result), nullptr);
}

TEST(ApplyChangesTest, EmptyChangeIsInvalid) {
  EXPECT_EQ(
      StatusText(
          ApplyChanges(ValidSnapshot(5), {RemoveIssuer("addin"), v1::TrustChange()}).status()),
      "INVALID_ARGUMENT: changes[1]: no change is set");
}

// A delta on revision 5's snapshot must name revision 5 as its base and
// bring a newer revision.
TEST(ApplyDeltaTest, RequiresTheBaseRevisionAndANewerRevision) {
  struct Case {
    uint64_t base_revision;
    uint64_t revision;
    const char* status;
  };
  for (const Case& c : {
           Case{4, 6,
                "FAILED_PRECONDITION: delta base revision 4 does not match the current "
                "revision 5"},
           Case{5, 5, "INVALID_ARGUMENT: delta revision 5 is not newer than its base revision 5"},
       }) {
    SCOPED_TRACE(c.status);
    v1::TrustDelta delta;
    delta.set_base_revision(c.base_revision);
    delta.set_revision(c.revision);
    EXPECT_EQ(StatusText(ApplyDelta(ValidSnapshot(5), delta).status()), c.status);
  }
}

TEST(ApplyDeltaTest, AppliesChangesAndTakesRevisionAndTime) {
  v1::TrustSnapshot base = ValidSnapshot(5);
  v1::TrustDelta delta;
  delta.set_base_revision(5);
  delta.set_revision(9);
  delta.mutable_created_at()->set_seconds(1800000000);
  *delta.add_changes() = RemoveIssuer("addin");
  absl::StatusOr<v1::TrustSnapshot> result = ApplyDelta(base, delta);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->revision(), 9u);
  EXPECT_EQ(result->created_at().seconds(), 1800000000);
  EXPECT_EQ(result->issuers_size(), 2);

  *delta.add_changes() = RemoveIssuer("addin");
  EXPECT_EQ(StatusText(ApplyDelta(base, delta).status()),
            "NOT_FOUND: changes[1]: remove_issuer: issuer addin does not exist");
}

TEST(DiffTest, IdenticalSnapshotsHaveNoChanges) {
  v1::TrustSnapshot from = ValidSnapshot(5);
  v1::TrustSnapshot to = ValidSnapshot(6);
  v1::TrustDelta delta = Diff(from, to);
  EXPECT_EQ(delta.base_revision(), 5u);
  EXPECT_EQ(delta.revision(), 6u);
  EXPECT_EQ(delta.changes_size(), 0);
}

TEST(DiffTest, RoundTripsAndIsAValidSnapshot) {
  v1::TrustSnapshot from = ValidSnapshot(5);
  v1::TrustSnapshot to = from;
  to.set_revision(6);
  to.mutable_created_at()->set_seconds(1800000000);
  to.mutable_issuers()->DeleteSubrange(1, 1);  // addin
  to.mutable_roots()->DeleteSubrange(2, 1);    // addin-root
  to.mutable_peers(0)->add_allowed_server_names("edge2.fabrikam.test");
  *to.add_revocations() = MakeRevocation(std::string(64, 'd'));
  *to.add_roots() =
      MakeRoot("northwind-root", "northwind.test", Pki().contoso.RootPem(), {v1::MTLS});

  v1::TrustDelta delta = Diff(from, to);
  // Dependents are removed before what they depend on; puts of roots come first.
  ASSERT_EQ(delta.changes_size(), 5);
  EXPECT_EQ(delta.changes(0).remove_issuer(), "addin");
  EXPECT_EQ(delta.changes(1).remove_root(), "addin-root");
  EXPECT_EQ(delta.changes(2).put_root().name(), "northwind-root");
  EXPECT_EQ(delta.changes(3).put_peer().trust_domain(), kPartner);
  EXPECT_EQ(delta.changes(4).put_revocation().sha256_hex(), std::string(64, 'd'));

  absl::StatusOr<v1::TrustSnapshot> applied = ApplyDelta(from, delta);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*applied, to)) << applied->DebugString() << "\nwant\n"
                                                        << to.DebugString();
  EXPECT_NE(MustCreate(*applied), nullptr);
}

TEST(DiffTest, CarriesTheRequiredFeaturesOfTo) {
  v1::TrustSnapshot from = ValidSnapshot(5);
  v1::TrustSnapshot to = from;
  to.set_revision(6);
  *to.add_revocations() = KeyRevocation(Pki().contoso.root().certificate);
  to = WithRequiredFeatures(std::move(to));
  v1::TrustDelta delta = Diff(from, to);
  EXPECT_EQ(std::vector<std::string>(delta.required_features().begin(),
                                     delta.required_features().end()),
            std::vector<std::string>{"revocation.key"});
  absl::StatusOr<v1::TrustSnapshot> applied = ApplyDelta(from, delta);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_TRUE(MessageDifferencer::Equals(*applied, to));
  EXPECT_NE(MustCreate(*applied), nullptr);
}

TEST(DiffTest, ReproducesReorderedObjectsExactly) {
  v1::TrustSnapshot from = ValidSnapshot(5);
  v1::TrustSnapshot to = from;
  to.set_revision(6);
  to.mutable_roots()->SwapElements(0, 3);
  v1::TrustDelta delta = Diff(from, to);
  absl::StatusOr<v1::TrustSnapshot> applied = ApplyDelta(from, delta);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(RootNames(*applied), RootNames(to));
  EXPECT_TRUE(MessageDifferencer::Equals(*applied, to));
}

// Random pairs of snapshots drawn from one pool of objects: whatever the
// additions, removals, changes and reorderings, the delta reproduces `to`.
TEST(DiffTest, RoundTripsRandomSnapshots) {
  std::mt19937 rng(20240611);
  auto random_state = [&](uint64_t revision) {
    v1::TrustSnapshot proto = EmptySnapshot(revision);
    std::vector<int> picks;
    for (int i = 0; i < 12; ++i) {
      if (rng() % 2 == 0) picks.push_back(i);
    }
    std::shuffle(picks.begin(), picks.end(), rng);
    for (int i : picks) {
      v1::RootAuthority* root = proto.add_roots();
      root->set_name(absl::StrCat("root-", i));
      root->set_certificates_pem(absl::StrCat("pem-", rng() % 3));
      // Every kind, keyed by RevocationKey; the DER hash of a non-DER kind
      // is informational and may collide with a DER-only one.
      v1::Revocation* revocation = proto.add_revocations();
      const std::string hash = absl::StrFormat("%064x", i / 4);
      revocation->set_sha256_hex(hash);
      revocation->set_kind(static_cast<v1::RevocationKind>(i % 4));
      if (i % 4 == 1) revocation->set_tbs_sha256_hex(hash);
      if (i % 4 == 2) revocation->set_spki_sha256_hex(hash);
      if (i % 4 == 3) {
        revocation->set_issuer_spki_sha256_hex(hash);
        revocation->set_serial_hex(absl::StrCat(rng() % 2 + 1));
      }
      revocation->set_reason(absl::StrCat("reason-", rng() % 2));
    }
    std::shuffle(proto.mutable_revocations()->begin(), proto.mutable_revocations()->end(), rng);
    return WithRequiredFeatures(std::move(proto));
  };
  for (int round = 0; round < 300; ++round) {
    v1::TrustSnapshot from = random_state(10);
    v1::TrustSnapshot to = random_state(11);
    absl::StatusOr<v1::TrustSnapshot> applied = ApplyDelta(from, Diff(from, to));
    ASSERT_TRUE(applied.ok()) << applied.status();
    ASSERT_TRUE(MessageDifferencer::Equals(*applied, to)) << "round " << round << "\nfrom\n"
                                                          << from.DebugString() << "\nto\n"
                                                          << to.DebugString() << "\ngot\n"
                                                          << applied->DebugString();
  }
}

}  // namespace
}  // namespace trustfabric::trust
