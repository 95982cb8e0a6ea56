#include "common/trust/snapshot.h"

#include <chrono>
#include <optional>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/pki/encoding.h"
#include "common/trust/validation.h"
#include "gtest/gtest.h"
#include "tests/common/trust/trust_fixture.h"

namespace trustfabric::trust {
namespace {

std::string CreateError(v1::TrustSnapshot proto) {
  return StatusText(TrustSnapshot::Create(std::move(proto)).status());
}

bool Contains(const pki::RootStore& store, const pki::Certificate& cert) {
  for (const pki::Certificate& root : store.roots()) {
    if (root == cert) return true;
  }
  return false;
}

TEST(TrustSnapshotTest, AcceptsValidSnapshotAndIndexesIt) {
  const TrustPki& pki = Pki();
  v1::TrustSnapshot proto = ValidSnapshot(7);
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->revision(), 7u);
  EXPECT_EQ(snapshot->trust_domain(), kDomain);
  EXPECT_EQ(snapshot->realm(), kRealm);
  EXPECT_EQ(snapshot->proto().SerializeAsString(), proto.SerializeAsString());

  std::shared_ptr<const pki::RootStore> contoso = snapshot->MtlsRoots(kDomain);
  ASSERT_NE(contoso, nullptr);
  EXPECT_EQ(contoso->roots().size(), 2u);
  EXPECT_TRUE(Contains(*contoso, pki.contoso.root().certificate));
  std::shared_ptr<const pki::RootStore> fabrikam = snapshot->MtlsRoots(kPartner);
  ASSERT_NE(fabrikam, nullptr);
  EXPECT_TRUE(Contains(*fabrikam, pki.fabrikam.root().certificate));
  EXPECT_FALSE(Contains(*fabrikam, pki.contoso.root().certificate));
  EXPECT_EQ(snapshot->MtlsRoots("northwind.test"), nullptr);

  std::shared_ptr<const pki::RootStore> token = snapshot->TokenSigningRoots();
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(token->roots().size(), 2u);
  EXPECT_TRUE(Contains(*token, pki.token_root.certificate));
  EXPECT_TRUE(Contains(*token, pki.addin_signing.certificate));
  EXPECT_FALSE(Contains(*token, pki.contoso.root().certificate));

  const IssuerEntry* hr = snapshot->FindIssuer(RegisteredName(kHrGuid));
  ASSERT_NE(hr, nullptr);
  EXPECT_EQ(hr->proto.name(), "hr-app");
  EXPECT_EQ(hr->issuer_guid, kHrGuid);
  EXPECT_EQ(snapshot->FindIssuerByName("hr-app"), hr);
  EXPECT_EQ(snapshot->FindIssuer(absl::AsciiStrToUpper(RegisteredName(kHrGuid))), nullptr);
  EXPECT_EQ(snapshot->FindIssuer("hr-app"), nullptr);
  EXPECT_EQ(snapshot->FindIssuerByName("payroll"), nullptr);
  const IssuerEntry* broker = snapshot->FindIssuerByName("broker");
  ASSERT_NE(broker, nullptr);
  EXPECT_TRUE(broker->broker_client_ids.contains(kClientB));
  EXPECT_EQ(snapshot->issuers().size(), 3u);

  const PeerEntry* peer = snapshot->FindPeer(kPartner);
  ASSERT_NE(peer, nullptr);
  EXPECT_EQ(peer->inert_reason, "");
  ASSERT_NE(peer->roots, nullptr);
  EXPECT_TRUE(Contains(*peer->roots, pki.fabrikam.root().certificate));
  EXPECT_TRUE(peer->allowed_server_names.contains("edge1.fabrikam.test"));
  EXPECT_EQ(snapshot->FindPeer("northwind.test"), nullptr);

  ASSERT_NE(snapshot->FindRoot("token-root"), nullptr);
  EXPECT_EQ(snapshot->FindRoot("token-root")->trust_domain(), kDomain);
  EXPECT_EQ(snapshot->FindRoot("nope"), nullptr);
  ASSERT_NE(snapshot->RootCertificates("contoso-root"), nullptr);
  EXPECT_EQ(snapshot->RootCertificates("contoso-root")->size(), 2u);

  // The fixture's revocation is a legacy one (kind 0), keyed by its hash.
  std::string revoked = pki::HexEncode(pki::Sha256("revoked"));
  EXPECT_TRUE(snapshot->revocation_index().Contains(revoked));
  EXPECT_FALSE(snapshot->revocation_index().Contains(pki.hr_signing.certificate.Sha256Hex()));
  EXPECT_EQ(snapshot->revocation_index().size(), 1u);

  EXPECT_EQ(snapshot->RootNameOf(pki.contoso.intermediate().certificate), "contoso-root");
  EXPECT_EQ(snapshot->RootNameOf(pki.addin_signing.certificate), "addin-root");
  EXPECT_EQ(snapshot->RootNameOf(pki.hr_signing.certificate), "");
}

TEST(TrustSnapshotTest, StoresVerifyTheChainsTheyAnchor) {
  const TrustPki& pki = Pki();
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(ValidSnapshot());
  ASSERT_NE(snapshot, nullptr);
  pki::IssuedCertificate fe = pki.contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  pki::IssuedCertificate edge = pki.fabrikam.IssueNode("edge", "edge1", "edge1.fabrikam.test");

  pki::VerifyRequest request{fe.certificate};
  request.at = absl::Now();
  request.intermediates = {pki.contoso.intermediate().certificate};
  absl::StatusOr<pki::VerifiedChain> chain = snapshot->MtlsRoots(kDomain)->Verify(request);
  ASSERT_TRUE(chain.ok()) << chain.status();
  EXPECT_EQ(snapshot->RootNameOf(chain->anchor()), "contoso-root");
  // A partner's node does not chain to the local bundle, nor a local node to
  // the partner's.
  EXPECT_FALSE(snapshot->FindPeer(kPartner)->roots->Verify(request).ok());

  pki::VerifyRequest partner{edge.certificate};
  partner.at = absl::Now();
  partner.intermediates = {pki.fabrikam.intermediate().certificate};
  EXPECT_TRUE(snapshot->FindPeer(kPartner)->roots->Verify(partner).ok());
  EXPECT_FALSE(snapshot->MtlsRoots(kDomain)->Verify(partner).ok());
}

TEST(TrustSnapshotTest, AcceptsEmptySnapshotAndRevisionZero) {
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(EmptySnapshot(0));
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->revision(), 0u);
  EXPECT_EQ(snapshot->MtlsRoots(kDomain), nullptr);
  EXPECT_EQ(snapshot->TokenSigningRoots(), nullptr);
  EXPECT_TRUE(snapshot->issuers().empty());
}

TEST(TrustSnapshotTest, RejectsBadTrustDomainAndRealm) {
  v1::TrustSnapshot proto = ValidSnapshot();
  ExpectTrustDomainsRefused({"Contoso", ""}, [&proto](const std::string& domain) {
    proto.set_trust_domain(domain);
    return CreateError(proto);
  });

  proto = ValidSnapshot();
  proto.set_realm(absl::AsciiStrToUpper(kRealm));
  EXPECT_EQ(CreateError(proto),
            absl::StrCat("INVALID_ARGUMENT: realm: \"", absl::AsciiStrToUpper(kRealm),
                         "\" is not a lower-case guid"));
  proto.set_realm("");
  EXPECT_EQ(CreateError(proto), "INVALID_ARGUMENT: realm: \"\" is not a lower-case guid");
}

TEST(TrustSnapshotTest, NamesTheObjectOfEachRejection) {
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.mutable_roots(2)->clear_purposes();
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: roots[2] (addin-root): purposes: at least one is required");

  proto = ValidSnapshot();
  proto.mutable_roots(0)->set_certificates_pem(Pki().hr_signing.certificate.ToPem());
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: roots[0] (contoso-root): certificates_pem: pem block 1: not a ca "
            "certificate (only a self-signed certificate in a root whose only purpose is "
            "token-signing may lack ca:true)");

  // A malformed key is not repeated in the label; the field says what is wrong.
  proto = ValidSnapshot();
  proto.mutable_roots(1)->set_name("Token Root");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: roots[1]: name: \"Token Root\" must be 1..128 characters of "
            "[a-z0-9._-]");

  proto = ValidSnapshot();
  proto.mutable_issuers(1)->clear_algorithms();
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: issuers[1] (addin): algorithms: at least one is required");

  proto = ValidSnapshot();
  proto.mutable_issuers(0)->set_registered_issuer_name(absl::StrCat(kHrGuid, "@", kClientA));
  EXPECT_EQ(CreateError(proto),
            absl::StrCat("INVALID_ARGUMENT: issuers[0] (hr-app): registered_issuer_name: realm ",
                         kClientA, " does not match the snapshot realm ", kRealm));

  proto = ValidSnapshot();
  proto.mutable_peers(0)->mutable_endpoints(0)->set_address("edge1:99999");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: peers[0] (fabrikam.test): endpoints[0]: address: "
            "\"edge1:99999\" must be host:port or [ipv6]:port with a port in 1..65535");

  proto = ValidSnapshot();
  proto.mutable_peers(0)->set_trust_domain(kDomain);
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: peers[0] (contoso.test): trust_domain: contoso.test is the local "
            "trust domain, not a partner");

  proto = ValidSnapshot();
  proto.mutable_revocations(0)->set_sha256_hex("abc");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: revocations[0]: sha256_hex: \"abc\" must be 64 lower-case hex "
            "characters");
}

TEST(TrustSnapshotTest, RejectsDuplicateKeys) {
  v1::TrustSnapshot proto = ValidSnapshot();
  *proto.add_roots() = proto.roots(0);
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: roots[4] (contoso-root): name: duplicate of roots[0]");

  proto = ValidSnapshot();
  v1::TokenIssuer same_name = proto.issuers(0);
  same_name.set_registered_issuer_name(RegisteredName(kClientA));
  *proto.add_issuers() = same_name;
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: issuers[3] (hr-app): name: duplicate of issuers[0]");

  proto = ValidSnapshot();
  v1::TokenIssuer same_registered = proto.issuers(0);
  same_registered.set_name("hr-app-2");
  *proto.add_issuers() = same_registered;
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: issuers[3] (hr-app-2): registered_issuer_name: duplicate of "
            "issuers[0] (hr-app)");

  proto = ValidSnapshot();
  *proto.add_peers() = proto.peers(0);
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: peers[1] (fabrikam.test): trust_domain: duplicate of peers[0]");

  proto = ValidSnapshot();
  *proto.add_revocations() = MakeRevocation(std::string(64, 'e'));
  *proto.add_revocations() = proto.revocations(0);
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: revocations[2]: sha256_hex: duplicate of revocations[0]");
}

TEST(TrustSnapshotTest, DuplicateRevocationsAreFoundByKeyWhateverTheirKind) {
  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  v1::TrustSnapshot proto = ValidSnapshot();
  *proto.add_revocations() = CertificateRevocation(cert);
  *proto.add_revocations() = KeyRevocation(cert);
  *proto.add_revocations() = IssuerSerialRevocation(cert, Pki().contoso.root().certificate);
  // A legacy revocation of the same certificate is another revocation.
  *proto.add_revocations() = MakeRevocation(cert.Sha256Hex());
  proto = WithRequiredFeatures(std::move(proto));
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->revocation_index().size(), 5u);

  v1::TrustSnapshot twice = proto;
  v1::Revocation again = CertificateRevocation(cert);
  again.set_reason("another reason");
  *twice.add_revocations() = again;
  EXPECT_EQ(CreateError(twice),
            "INVALID_ARGUMENT: revocations[5]: tbs_sha256_hex: duplicate of revocations[1]");
  twice = proto;
  *twice.add_revocations() = KeyRevocation(cert);
  EXPECT_EQ(CreateError(twice),
            "INVALID_ARGUMENT: revocations[5]: spki_sha256_hex: duplicate of revocations[2]");
  twice = proto;
  *twice.add_revocations() = IssuerSerialRevocation(cert, Pki().contoso.root().certificate);
  EXPECT_EQ(CreateError(twice),
            "INVALID_ARGUMENT: revocations[5]: issuer_spki_sha256_hex and serial_hex: duplicate "
            "of revocations[3]");
}

TEST(TrustSnapshotTest, RequiredFeaturesMustBeKnownListedSortedAndUnique) {
  const pki::Certificate& cert = Pki().contoso.intermediate().certificate;
  // A feature this node does not know: refused, with the reason a node
  // NACKs with, even when the content needs nothing.
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.add_required_features("revocation.ocsp");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features: feature \"revocation.ocsp\" is not supported "
            "by this node");
  // Reported before any content it might explain (an unknown kind here).
  proto.add_revocations()->set_kind(static_cast<v1::RevocationKind>(9));
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features: feature \"revocation.ocsp\" is not supported "
            "by this node");

  // Content needing a feature the list leaves out: refused (a node would
  // otherwise apply what the control plane did not say it must enforce).
  proto = ValidSnapshot();
  *proto.add_revocations() = KeyRevocation(cert);
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features: revocations[1] needs feature "
            "\"revocation.key\", which is not listed");
  proto.add_required_features("revocation.certificate");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features: revocations[1] needs feature "
            "\"revocation.key\", which is not listed");
  proto.add_required_features("revocation.key");
  EXPECT_NE(MustCreate(proto), nullptr);  // listing more than the content needs is fine

  proto.clear_required_features();
  proto.add_required_features("revocation.key");
  proto.add_required_features("revocation.certificate");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features: not sorted (\"revocation.key\" before "
            "\"revocation.certificate\")");
  proto.clear_required_features();
  proto.add_required_features("revocation.key");
  proto.add_required_features("revocation.key");
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: required_features[1]: duplicate \"revocation.key\"");

  // Legacy content needs nothing.
  EXPECT_NE(MustCreate(ValidSnapshot()), nullptr);
}

TEST(TrustSnapshotTest, LegacyRevocationsKeepMatchingTheirExactEncoding) {
  const TrustPki& pki = Pki();
  v1::TrustSnapshot proto = ValidSnapshot();
  // As stored before revocation kinds: only sha256_hex, reason, time.
  v1::Revocation legacy;
  legacy.set_sha256_hex(pki.contoso.intermediate().certificate.Sha256Hex());
  legacy.set_reason("key compromise");
  *proto.add_revocations() = legacy;
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_TRUE(snapshot->revocation_index().Contains(legacy.sha256_hex()));
  pki::IssuedCertificate leaf = pki.contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  std::optional<pki::RevokedCertificate> revoked = snapshot->revocation_index().FirstRevoked(
      std::vector<pki::Certificate>{leaf.certificate, pki.contoso.intermediate().certificate,
                                    pki.contoso.root().certificate});
  ASSERT_TRUE(revoked.has_value());
  EXPECT_EQ(revoked->index, 1u);
  EXPECT_EQ(revoked->kind, "der_only");
  EXPECT_EQ(revoked->key, legacy.sha256_hex());
}

TEST(TrustSnapshotTest, RejectsTooManyObjects) {
  v1::TrustSnapshot proto = EmptySnapshot(1);
  for (int i = 0; i <= kMaxRoots; ++i) proto.add_roots()->set_name(absl::StrCat("r", i));
  EXPECT_EQ(CreateError(proto), "INVALID_ARGUMENT: roots: 20001 entries exceed the limit of 20000");

  proto = EmptySnapshot(1);
  for (int i = 0; i <= kMaxIssuers; ++i) proto.add_issuers()->set_name(absl::StrCat("i", i));
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: issuers: 20001 entries exceed the limit of 20000");

  proto = EmptySnapshot(1);
  for (int i = 0; i <= kMaxPeers; ++i) proto.add_peers()->set_trust_domain(absl::StrCat("p", i));
  EXPECT_EQ(CreateError(proto), "INVALID_ARGUMENT: peers: 20001 entries exceed the limit of 20000");

  proto = EmptySnapshot(1);
  for (int i = 0; i <= kMaxRevocations; ++i) {
    proto.add_revocations()->set_sha256_hex(absl::StrFormat("%064x", i));
  }
  EXPECT_EQ(CreateError(proto),
            "INVALID_ARGUMENT: revocations: 20001 entries exceed the limit of 20000");
}

TEST(TrustSnapshotTest, RejectsOversizedSnapshot) {
  v1::TrustSnapshot proto = EmptySnapshot(1);
  proto.add_revocations()->set_reason(std::string(kMaxSnapshotBytes, 'x'));
  std::string error = CreateError(proto);
  EXPECT_EQ(error, absl::StrCat("INVALID_ARGUMENT: snapshot: ", proto.ByteSizeLong(),
                                " bytes exceed the limit of ", kMaxSnapshotBytes));
}

TEST(TrustSnapshotTest, PeerWithRemovedRootIsInertNotInvalid) {
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.mutable_roots()->DeleteSubrange(3, 1);  // fabrikam-root
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  ExpectPartnerInertWithoutItsRoot(*snapshot);
  EXPECT_EQ(snapshot->MtlsRoots(kPartner), nullptr);
}

TEST(TrustSnapshotTest, PeerWithUnsuitableRootIsInert) {
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.mutable_peers(0)->set_root_authority_names(0, "contoso-root");
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->FindPeer(kPartner)->inert_reason,
            "federation peer fabrikam.test is inert: root authority contoso-root anchors trust "
            "domain contoso.test, not fabrikam.test");
  EXPECT_EQ(snapshot->FindPeer(kPartner)->roots, nullptr);

  proto = ValidSnapshot();
  proto.mutable_roots(3)->set_purposes(0, v1::TOKEN_SIGNING);
  snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->FindPeer(kPartner)->inert_reason,
            "federation peer fabrikam.test is inert: root authority fabrikam-root does not have "
            "purpose mtls");
  EXPECT_EQ(snapshot->FindPeer(kPartner)->roots, nullptr);
}

TEST(TrustSnapshotTest, DisabledPeerIsRefusedWithReason) {
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.mutable_peers(0)->set_enabled(false);
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->FindPeer(kPartner)->inert_reason,
            "federation peer fabrikam.test is disabled");
  EXPECT_EQ(snapshot->FindPeer(kPartner)->roots, nullptr);
}

TEST(TrustSnapshotTest, PeerRootsAreTheUnionOfItsRoots) {
  const TrustPki& pki = Pki();
  v1::TrustSnapshot proto = ValidSnapshot();
  *proto.add_roots() = MakeRoot("fabrikam-intermediate", kPartner,
                                pki.fabrikam.intermediate().certificate.ToPem(), {v1::MTLS});
  proto.mutable_peers(0)->add_root_authority_names("fabrikam-intermediate");
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  const PeerEntry* peer = snapshot->FindPeer(kPartner);
  ASSERT_NE(peer->roots, nullptr);
  EXPECT_EQ(peer->roots->roots().size(), 2u);
  EXPECT_TRUE(Contains(*peer->roots, pki.fabrikam.intermediate().certificate));
}

TEST(TrustSnapshotTest, IssuerWhoseRootWasRemovedIsStillStructurallyValid) {
  v1::TrustSnapshot proto = ValidSnapshot();
  proto.mutable_roots()->DeleteSubrange(1, 1);  // token-root
  std::shared_ptr<const TrustSnapshot> snapshot = MustCreate(proto);
  ASSERT_NE(snapshot, nullptr);
  EXPECT_NE(snapshot->FindIssuerByName("hr-app"), nullptr);
}

std::string AppGuid(int i) { return absl::StrFormat("%08x-0000-4000-8000-%012x", i, i); }

// 1,000 roots over ten domains and 10,000 issuers. A few distinct
// certificates are reused: parsing and indexing dominate, not key generation.
v1::TrustSnapshot LargeSnapshot() {
  const TrustPki& pki = Pki();
  v1::TrustSnapshot proto = EmptySnapshot(42);
  const std::vector<std::string> ca_pems = {pki.contoso.RootPem(), pki.fabrikam.RootPem(),
                                            pki.token_root.certificate.ToPem(),
                                            pki.contoso.intermediate().certificate.ToPem()};
  for (int i = 0; i < 1000; ++i) {
    v1::Purpose purpose = i % 2 == 0 ? v1::MTLS : v1::TOKEN_SIGNING;
    *proto.add_roots() = MakeRoot(absl::StrCat("root-", i), absl::StrCat("domain", i % 10, ".test"),
                                  ca_pems[i % ca_pems.size()], {purpose});
  }
  const std::vector<std::string> signing_pems = {pki.hr_signing.certificate.ToPem(),
                                                 pki.addin_signing.certificate.ToPem()};
  for (int i = 0; i < 10000; ++i) {
    *proto.add_issuers() =
        MakeIssuer(absl::StrCat("app-", i), AppGuid(i), {signing_pems[i % 2]}, {v1::RS256});
  }
  return proto;
}

// Reported, not asserted: timing goals live in bench/.
template <typename F>
auto Timed(const char* what, ::testing::Test* test, F f) {
  auto start = std::chrono::steady_clock::now();
  auto result = f();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  test->RecordProperty(what, static_cast<int>(ms));
  std::printf("%s: %lld ms\n", what, static_cast<long long>(ms));
  return result;
}

TEST(TrustSnapshotTest, AcceptsTenThousandIssuersAndAThousandRoots) {
  v1::TrustSnapshot proto = LargeSnapshot();
  std::shared_ptr<const TrustSnapshot> snapshot =
      Timed("create_10000_issuers_1000_roots_ms", this, [&] { return MustCreate(proto); });
  ASSERT_NE(snapshot, nullptr);
  EXPECT_EQ(snapshot->issuers().size(), 10000u);
  const IssuerEntry* last = snapshot->FindIssuer(RegisteredName(AppGuid(9999)));
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->proto.name(), "app-9999");
  ASSERT_NE(snapshot->MtlsRoots("domain4.test"), nullptr);
  EXPECT_EQ(snapshot->MtlsRoots("domain4.test")->roots().size(), 100u);
  ASSERT_NE(snapshot->TokenSigningRoots(), nullptr);
  EXPECT_EQ(snapshot->TokenSigningRoots()->roots().size(), 500u);
  EXPECT_NE(snapshot->FindRoot("root-999"), nullptr);
}

TEST(TrustSnapshotTest, CreateFromPreviousReusesUnchangedObjectsOnly) {
  v1::TrustSnapshot proto = LargeSnapshot();
  std::shared_ptr<const TrustSnapshot> previous = MustCreate(proto);
  ASSERT_NE(previous, nullptr);

  proto.set_revision(43);
  proto.mutable_issuers(7)->add_algorithms(v1::ES256);
  proto.mutable_issuers(7)->add_signing_certificates_pem(Pki().ec_signing.certificate.ToPem());
  proto.mutable_roots(3)->add_purposes(v1::MTLS);
  absl::StatusOr<std::shared_ptr<const TrustSnapshot>> next =
      Timed("create_from_previous_one_change_ms", this,
            [&] { return TrustSnapshot::Create(proto, previous.get()); });
  ASSERT_TRUE(next.ok()) << next.status();
  const TrustSnapshot& snapshot = **next;
  EXPECT_EQ(snapshot.revision(), 43u);

  // Unchanged objects share the parsed certificates of the previous revision.
  EXPECT_EQ(snapshot.FindIssuerByName("app-8")->signing_certificates[0].get(),
            previous->FindIssuerByName("app-8")->signing_certificates[0].get());
  EXPECT_EQ((*snapshot.RootCertificates("root-4"))[0].get(),
            (*previous->RootCertificates("root-4"))[0].get());
  // Changed ones are parsed and indexed afresh.
  const IssuerEntry* changed = snapshot.FindIssuerByName("app-7");
  ASSERT_EQ(changed->signing_certificates.size(), 2u);
  EXPECT_NE(changed->signing_certificates[0].get(),
            previous->FindIssuerByName("app-7")->signing_certificates[0].get());
  EXPECT_TRUE(changed->algorithms.contains(v1::ES256));
  EXPECT_NE((*snapshot.RootCertificates("root-3"))[0].get(),
            (*previous->RootCertificates("root-3"))[0].get());
  // root-3 (domain3.test) gained purpose mtls: the first mtls root there.
  EXPECT_EQ(previous->MtlsRoots("domain3.test"), nullptr);
  ASSERT_NE(snapshot.MtlsRoots("domain3.test"), nullptr);
  EXPECT_EQ(snapshot.MtlsRoots("domain3.test")->roots().size(), 1u);
}

TEST(TrustSnapshotTest, CreateFromPreviousStillRejectsWhatCreateRejects) {
  v1::TrustSnapshot proto = ValidSnapshot(1);
  std::shared_ptr<const TrustSnapshot> previous = MustCreate(proto);
  ASSERT_NE(previous, nullptr);

  // A changed object is validated again.
  v1::TrustSnapshot next = proto;
  next.mutable_issuers(0)->add_algorithms(v1::EDDSA);
  EXPECT_EQ(StatusText(TrustSnapshot::Create(next, previous.get()).status()),
            "INVALID_ARGUMENT: issuers[0] (hr-app): algorithms[1]: eddsa needs an ed25519 "
            "signing certificate and the issuer has none");

  // Unchanged objects are validated again under another realm.
  next = proto;
  std::string other_realm = kClientA;
  next.set_realm(other_realm);
  EXPECT_EQ(StatusText(TrustSnapshot::Create(next, previous.get()).status()),
            absl::StrCat("INVALID_ARGUMENT: issuers[0] (hr-app): registered_issuer_name: realm ",
                         kRealm, " does not match the snapshot realm ", other_realm));

  // Duplicates of reused objects are still duplicates.
  next = proto;
  *next.add_roots() = proto.roots(1);
  EXPECT_EQ(StatusText(TrustSnapshot::Create(next, previous.get()).status()),
            "INVALID_ARGUMENT: roots[4] (token-root): name: duplicate of roots[1]");
}

}  // namespace
}  // namespace trustfabric::trust
