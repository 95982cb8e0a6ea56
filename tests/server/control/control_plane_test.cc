// ControlPlane (the gRPC-free domain class): seeding, every mutation, every
// refusal with its code and the field it names (and that nothing is stored
// then), compare-and-swap, forced removals, safe rotation against connected
// nodes, propagation waits and the audit log.
#include "server/control/control_plane.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/control/sqlite_store.h"
#include "tests/common/trust/trust_fixture.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::control {
namespace {

using ::testing::HasSubstr;
using testing::IsOk;
using ::testing::Not;
using ::testing::SizeIs;
using testing::StatusIs;
using trust::kDomain;
using trust::kHrGuid;
using trust::kPartner;
using trust::kRealm;
using trust::MakeIssuer;
using trust::MakePeer;
using trust::MakeRoot;
using trust::Pki;

const Caller kAlice{"spiffe://contoso.test/admin/alice"};

NodeIdentity NodeOf(const std::string& name, const pki::IssuedCertificate& leaf) {
  NodeIdentity node;
  node.spiffe_id = absl::StrCat("spiffe://contoso.test/frontend/", name);
  node.role = "frontend";
  node.dns_name = absl::StrCat(name, ".contoso.test");
  node.not_after = leaf.certificate.NotAfter();
  node.anchoring_root = "contoso-root";
  node.chain_sha256 = {leaf.certificate.Sha256Hex(),
                       Pki().contoso.intermediate().certificate.Sha256Hex(),
                       Pki().contoso.root().certificate.Sha256Hex()};
  return node;
}

class ControlPlaneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cp_ = Make();
    ASSERT_NE(cp_, nullptr);
  }

  ControlPlane::Options DefaultOptions() const {
    ControlPlane::Options opts;
    opts.trust_domain = kDomain;
    opts.realm = kRealm;
    opts.seed_root_name = "contoso-root";
    opts.seed_root_pem = Pki().contoso.RootPem();
    opts.clock = [now = now_] { return now; };
    return opts;
  }

  absl::StatusOr<std::unique_ptr<ControlPlane>> TryMake(ControlPlane::Options opts,
                                                        trust::SnapshotHolder* holder) {
    SqliteStore::Options store;
    store.path = dir_.path() + "/control.db";
    TF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> s, SqliteStore::Open(store));
    return ControlPlane::Create(std::move(opts), std::move(s), holder, &nodes_);
  }

  std::unique_ptr<ControlPlane> Make() {
    absl::StatusOr<std::unique_ptr<ControlPlane>> cp = TryMake(DefaultOptions(), &holder_);
    EXPECT_THAT(cp, IsOk());
    return cp.ok() ? *std::move(cp) : nullptr;
  }

  std::vector<v1::AuditRecord> Audit() {
    v1::GetAuditLogRequest req;
    req.set_limit(10000);
    absl::StatusOr<v1::GetAuditLogResponse> resp = cp_->GetAuditLog(req);
    EXPECT_THAT(resp, IsOk());
    if (!resp.ok()) return {};
    return {resp->records().begin(), resp->records().end()};
  }

  // Runs `mutation`, expects `code` with `message`, and that neither the
  // state nor the audit log changed.
  template <typename F>
  void ExpectRefused(F mutation, absl::StatusCode code, const std::string& message) {
    const uint64_t revision = cp_->revision();
    const size_t audit = Audit().size();
    absl::StatusOr<v1::MutationResponse> result = mutation();
    EXPECT_THAT(result, StatusIs(code, message));
    EXPECT_EQ(cp_->revision(), revision);
    EXPECT_EQ(holder_.Get()->revision(), revision);
    EXPECT_EQ(Audit().size(), audit);
  }

  absl::StatusOr<v1::MutationResponse> AddRoot(const v1::RootAuthority& root) {
    v1::AddRootAuthorityRequest req;
    *req.mutable_root() = root;
    return cp_->AddRootAuthority(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> RemoveRoot(const std::string& name, bool force = false) {
    v1::RemoveRootAuthorityRequest req;
    req.set_name(name);
    req.set_force(force);
    return cp_->RemoveRootAuthority(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> AddIssuer(const v1::TokenIssuer& issuer) {
    v1::AddTokenIssuerRequest req;
    *req.mutable_issuer() = issuer;
    return cp_->AddTokenIssuer(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> PutPeer(const v1::FederationPeer& peer) {
    v1::PutFederationPeerRequest req;
    *req.mutable_peer() = peer;
    return cp_->PutFederationPeer(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> RevokeSha(const std::string& sha, bool force = false) {
    v1::RevokeCertificateRequest req;
    req.set_sha256_hex(sha);
    req.set_reason("key compromise");
    req.set_force(force);
    return cp_->RevokeCertificate(kAlice, req);
  }

  v1::RootAuthority TokenRoot() const {
    return MakeRoot("token-root", kDomain, Pki().token_root.certificate.ToPem(),
                    {v1::TOKEN_SIGNING});
  }
  v1::RootAuthority FabrikamRoot() const {
    return MakeRoot("fabrikam-root", kPartner, Pki().fabrikam.RootPem(), {v1::MTLS});
  }
  v1::TokenIssuer HrIssuer() const {
    return MakeIssuer("hr-app", kHrGuid, {Pki().hr_signing.certificate.ToPem()}, {v1::RS256});
  }

  const absl::Time now_ = absl::Now();
  testing::TempDir dir_;
  trust::SnapshotHolder holder_;
  NodeRegistry nodes_;
  std::unique_ptr<ControlPlane> cp_;
};

TEST_F(ControlPlaneTest, AnEmptyStoreIsSeededWithTheLocalRootAsRevisionOne) {
  EXPECT_EQ(cp_->revision(), 1u);
  ASSERT_NE(holder_.Get(), nullptr);
  EXPECT_EQ(holder_.Get()->revision(), 1u);
  const v1::TrustSnapshot snap = cp_->GetSnapshot();
  EXPECT_EQ(snap.trust_domain(), kDomain);
  EXPECT_EQ(snap.realm(), kRealm);
  ASSERT_EQ(snap.roots_size(), 1);
  EXPECT_EQ(snap.roots(0).name(), "contoso-root");
  EXPECT_EQ(snap.roots(0).trust_domain(), kDomain);
  EXPECT_THAT(snap.roots(0).purposes(), ::testing::ElementsAre(v1::MTLS, v1::TOKEN_SIGNING));
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(1));
  EXPECT_EQ(audit[0].revision(), 1u);
  EXPECT_EQ(audit[0].actor(), kBootstrapActor);
  EXPECT_EQ(audit[0].operation(), "root.add");
  EXPECT_EQ(audit[0].object(), "contoso-root");
  EXPECT_EQ(cp_->updates().revision(), 1u);
}

TEST_F(ControlPlaneTest, ReopeningLoadsTheStoredStateWithoutSeedingAgain) {
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  cp_.reset();
  trust::SnapshotHolder holder;
  absl::StatusOr<std::unique_ptr<ControlPlane>> again = TryMake(DefaultOptions(), &holder);
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->revision(), 2u);
  EXPECT_EQ(holder.Get()->proto().roots_size(), 2);
  // The history was loaded too: a node at revision 1 resumes with a delta.
  std::shared_ptr<const Update> update = (*again)->updates().UpdateFrom(1);
  ASSERT_NE(update, nullptr);
  EXPECT_EQ(update->kind, Update::Kind::kDelta);
}

TEST_F(ControlPlaneTest, AStoreOfAnotherDomainOrRealmIsRefused) {
  cp_.reset();
  ControlPlane::Options opts = DefaultOptions();
  opts.realm = "00000000-0000-4000-8000-000000000000";
  trust::SnapshotHolder holder;
  EXPECT_THAT(TryMake(opts, &holder),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the store holds trust domain contoso.test (realm " + std::string(kRealm)));
}

TEST_F(ControlPlaneTest, AnEmptyStoreWithoutASeedRootIsRefused) {
  cp_.reset();
  testing::TempDir other;
  SqliteStore::Options store;
  store.path = other.path() + "/control.db";
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(store);
  ASSERT_THAT(s, IsOk());
  ControlPlane::Options opts = DefaultOptions();
  opts.seed_root_pem.clear();
  trust::SnapshotHolder holder;
  EXPECT_THAT(ControlPlane::Create(opts, *std::move(s), &holder, &nodes_),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the store is empty and no seed root is configured"));
}

TEST_F(ControlPlaneTest, AnInvalidSeedRootIsRefusedNamingIt) {
  cp_.reset();
  testing::TempDir other;
  SqliteStore::Options store;
  store.path = other.path() + "/control.db";
  absl::StatusOr<std::unique_ptr<SqliteStore>> s = SqliteStore::Open(store);
  ASSERT_THAT(s, IsOk());
  ControlPlane::Options opts = DefaultOptions();
  opts.seed_root_pem = "not a pem";
  trust::SnapshotHolder holder;
  EXPECT_THAT(ControlPlane::Create(opts, *std::move(s), &holder, &nodes_),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "seed root: root authority contoso-root: certificates_pem"));
}

TEST_F(ControlPlaneTest, EveryMutationCommitsOneRevisionAndOneAuditRecord) {
  struct Step {
    std::string operation;
    std::string object;
    std::function<absl::StatusOr<v1::MutationResponse>()> run;
  };
  const std::string hr_sha = Pki().hr_signing.certificate.Sha256Hex();
  std::vector<Step> steps = {
      {"root.add", "token-root", [&] { return AddRoot(TokenRoot()); }},
      {"root.add", "fabrikam-root", [&] { return AddRoot(FabrikamRoot()); }},
      {"issuer.add", "hr-app", [&] { return AddIssuer(HrIssuer()); }},
      {"peer.put", kPartner, [&] { return PutPeer(MakePeer(kPartner, {"fabrikam-root"})); }},
      {"peer.put", kPartner,
       [&] {
         v1::FederationPeer peer = MakePeer(kPartner, {"fabrikam-root"});
         peer.set_enabled(false);
         return PutPeer(peer);
       }},
      {"revocation.add", hr_sha, [&] { return RevokeSha(hr_sha); }},
      {"revocation.remove", hr_sha,
       [&] {
         v1::UnrevokeCertificateRequest req;
         req.set_sha256_hex(hr_sha);
         return cp_->UnrevokeCertificate(kAlice, req);
       }},
      {"peer.remove", kPartner,
       [&] {
         v1::RemoveFederationPeerRequest req;
         req.set_trust_domain(kPartner);
         return cp_->RemoveFederationPeer(kAlice, req);
       }},
      {"issuer.remove", "hr-app",
       [&] {
         v1::RemoveTokenIssuerRequest req;
         req.set_name("hr-app");
         return cp_->RemoveTokenIssuer(kAlice, req);
       }},
      {"root.remove", "fabrikam-root", [&] { return RemoveRoot("fabrikam-root"); }},
  };
  uint64_t expected = 1;
  for (const Step& step : steps) {
    SCOPED_TRACE(step.operation);
    absl::StatusOr<v1::MutationResponse> r = step.run();
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(r->revision(), ++expected);
    EXPECT_EQ(holder_.Get()->revision(), expected);
    EXPECT_EQ(cp_->updates().revision(), expected);
    std::vector<v1::AuditRecord> audit = Audit();
    ASSERT_FALSE(audit.empty());
    EXPECT_EQ(audit.back().revision(), expected);
    EXPECT_EQ(audit.back().operation(), step.operation);
    EXPECT_EQ(audit.back().object(), step.object);
    EXPECT_EQ(audit.back().actor(), kAlice.actor);
  }
  const v1::TrustSnapshot snap = cp_->GetSnapshot();
  EXPECT_EQ(snap.revision(), expected);
  EXPECT_EQ(snap.roots_size(), 2);  // contoso-root, token-root
  EXPECT_EQ(snap.issuers_size(), 0);
  EXPECT_EQ(snap.peers_size(), 0);
  EXPECT_EQ(snap.revocations_size(), 0);
  EXPECT_EQ(cp_->ListRootAuthorities().roots_size(), 2);
  EXPECT_EQ(cp_->ListRootAuthorities().revision(), expected);
}

TEST_F(ControlPlaneTest, AuditSummariesNameCertificatesBySubjectAndHashNeverByKeyMaterial) {
  ASSERT_THAT(AddRoot(TokenRoot()), IsOk());
  ASSERT_THAT(AddIssuer(HrIssuer()), IsOk());
  ASSERT_THAT(RemoveRoot("token-root", /*force=*/true), IsOk());
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_THAT(audit, SizeIs(4));
  EXPECT_THAT(audit[1].after(),
              HasSubstr(absl::StrCat("sha256=", Pki().token_root.certificate.Sha256Hex())));
  EXPECT_THAT(audit[1].after(), HasSubstr(Pki().token_root.certificate.Subject()));
  EXPECT_THAT(audit[1].after(), HasSubstr("purposes=token_signing"));
  EXPECT_THAT(audit[2].after(), HasSubstr(absl::StrCat("registered_issuer_name=\"", kHrGuid)));
  EXPECT_THAT(audit[2].after(),
              HasSubstr(absl::StrCat("sha256=", Pki().hr_signing.certificate.Sha256Hex())));
  EXPECT_EQ(audit[3].operation(), "root.remove");
  EXPECT_THAT(audit[3].before(), HasSubstr("purposes=token_signing"));
  EXPECT_EQ(audit[3].after(), "forced");
  for (const v1::AuditRecord& r : audit) {
    EXPECT_THAT(r.before(), Not(HasSubstr("BEGIN")));
    EXPECT_THAT(r.after(), Not(HasSubstr("BEGIN")));
  }
}

TEST_F(ControlPlaneTest, RootRefusalsNameTheFieldAndStoreNothing) {
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, {}); },
                absl::StatusCode::kInvalidArgument, "root: must be set");
  ExpectRefused(
      [&] {
        return AddRoot(MakeRoot("contoso-root", kDomain, Pki().contoso.RootPem(), {v1::MTLS}));
      },
      absl::StatusCode::kAlreadyExists, "root authority contoso-root already exists");
  ExpectRefused([&] { return AddRoot(MakeRoot("bad", kDomain, "garbage", {v1::MTLS})); },
                absl::StatusCode::kInvalidArgument, "root authority bad: certificates_pem");
  ExpectRefused(
      [&] { return AddRoot(MakeRoot("nopurpose", kDomain, Pki().fabrikam.RootPem(), {})); },
      absl::StatusCode::kInvalidArgument, "root authority nopurpose: purposes");
  ExpectRefused([&] { return RemoveRoot("nope"); }, absl::StatusCode::kNotFound,
                "root authority nope does not exist");
  ExpectRefused([&] { return RemoveRoot("Bad Name"); }, absl::StatusCode::kInvalidArgument,
                "name: \"Bad Name\" is not a valid name");
}

TEST_F(ControlPlaneTest, IssuerRefusalsNameTheFieldAndStoreNothing) {
  ExpectRefused([&] { return cp_->AddTokenIssuer(kAlice, {}); }, absl::StatusCode::kInvalidArgument,
                "issuer: must be set");
  // No token-signing root anchors it yet (contoso-root did not issue it).
  ExpectRefused([&] { return AddIssuer(HrIssuer()); }, absl::StatusCode::kFailedPrecondition,
                "issuer hr-app: signing certificate 0 (sha256 " +
                    Pki().hr_signing.certificate.Sha256Hex() +
                    ") does not chain to a token_signing root authority");
  ASSERT_THAT(AddRoot(TokenRoot()), IsOk());
  v1::TokenIssuer wrong_realm = HrIssuer();
  wrong_realm.set_registered_issuer_name(
      absl::StrCat(kHrGuid, "@00000000-0000-4000-8000-000000000000"));
  ExpectRefused([&] { return AddIssuer(wrong_realm); }, absl::StatusCode::kInvalidArgument,
                "issuer hr-app: registered_issuer_name");
  v1::TokenIssuer no_algorithms = HrIssuer();
  no_algorithms.clear_algorithms();
  ExpectRefused([&] { return AddIssuer(no_algorithms); }, absl::StatusCode::kInvalidArgument,
                "issuer hr-app: algorithms");
  ASSERT_THAT(AddIssuer(HrIssuer()), IsOk());
  ExpectRefused([&] { return AddIssuer(HrIssuer()); }, absl::StatusCode::kAlreadyExists,
                "issuer hr-app already exists");
  v1::RemoveTokenIssuerRequest remove;
  remove.set_name("nobody");
  ExpectRefused([&] { return cp_->RemoveTokenIssuer(kAlice, remove); }, absl::StatusCode::kNotFound,
                "issuer nobody does not exist");
}

TEST_F(ControlPlaneTest, PeerRefusalsNameTheFieldAndStoreNothing) {
  ExpectRefused([&] { return cp_->PutFederationPeer(kAlice, {}); },
                absl::StatusCode::kInvalidArgument, "peer: must be set");
  ExpectRefused([&] { return PutPeer(MakePeer(kPartner, {"fabrikam-root"})); },
                absl::StatusCode::kNotFound,
                "federation peer fabrikam.test: root authority fabrikam-root does not exist");
  ExpectRefused([&] { return PutPeer(MakePeer(kDomain, {"contoso-root"})); },
                absl::StatusCode::kInvalidArgument, "federation peer contoso.test: trust_domain");
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  ExpectRefused([&] { return PutPeer(MakePeer("northwind.test", {"fabrikam-root"})); },
                absl::StatusCode::kFailedPrecondition,
                "federation peer northwind.test: root authority fabrikam-root anchors trust "
                "domain fabrikam.test");
  v1::RemoveFederationPeerRequest remove;
  remove.set_trust_domain(kPartner);
  ExpectRefused([&] { return cp_->RemoveFederationPeer(kAlice, remove); },
                absl::StatusCode::kNotFound, "federation peer fabrikam.test does not exist");
  remove.set_trust_domain("Not A Domain");
  ExpectRefused([&] { return cp_->RemoveFederationPeer(kAlice, remove); },
                absl::StatusCode::kInvalidArgument, "trust_domain: \"Not A Domain\"");
}

TEST_F(ControlPlaneTest, RevocationRefusalsNameTheFieldAndStoreNothing) {
  v1::RevokeCertificateRequest none;
  ExpectRefused([&] { return cp_->RevokeCertificate(kAlice, none); },
                absl::StatusCode::kInvalidArgument, "target: set certificate_pem or sha256_hex");
  ExpectRefused([&] { return RevokeSha("abc"); }, absl::StatusCode::kInvalidArgument,
                "sha256_hex: \"abc\" is not a sha-256");
  v1::RevokeCertificateRequest bad_pem;
  bad_pem.set_certificate_pem("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n");
  ExpectRefused([&] { return cp_->RevokeCertificate(kAlice, bad_pem); },
                absl::StatusCode::kInvalidArgument, "certificate_pem: ");
  const std::string sha = std::string(64, 'a');
  ASSERT_THAT(RevokeSha(sha), IsOk());
  ExpectRefused([&] { return RevokeSha(sha); }, absl::StatusCode::kAlreadyExists,
                absl::StrCat("revocation ", sha, " already exists"));
  v1::UnrevokeCertificateRequest unrevoke;
  unrevoke.set_sha256_hex(std::string(64, 'b'));
  ExpectRefused([&] { return cp_->UnrevokeCertificate(kAlice, unrevoke); },
                absl::StatusCode::kNotFound, "does not exist");
  unrevoke.set_sha256_hex("xyz");
  ExpectRefused([&] { return cp_->UnrevokeCertificate(kAlice, unrevoke); },
                absl::StatusCode::kInvalidArgument, "sha256_hex: \"xyz\"");
}

TEST_F(ControlPlaneTest, RevocationByPemRecordsTheSubjectAndHexIsNormalized) {
  v1::RevokeCertificateRequest by_pem;
  by_pem.set_certificate_pem(Pki().hr_signing.certificate.ToPem());
  by_pem.set_reason("retired");
  ASSERT_THAT(cp_->RevokeCertificate(kAlice, by_pem), IsOk());
  v1::TrustSnapshot snap = cp_->GetSnapshot();
  ASSERT_EQ(snap.revocations_size(), 1);
  EXPECT_EQ(snap.revocations(0).sha256_hex(), Pki().hr_signing.certificate.Sha256Hex());
  EXPECT_EQ(snap.revocations(0).subject(), Pki().hr_signing.certificate.Subject());
  EXPECT_EQ(snap.revocations(0).reason(), "retired");
  EXPECT_EQ(FromProtoTime(snap.revocations(0).revoked_at()), now_);
  EXPECT_THAT(Audit().back().after(), HasSubstr("subject="));

  // openssl's form: upper case, ':' separated.
  const std::string sha = Pki().ec_signing.certificate.Sha256Hex();
  std::vector<std::string> pairs;
  for (size_t i = 0; i < sha.size(); i += 2)
    pairs.push_back(absl::AsciiStrToUpper(sha.substr(i, 2)));
  ASSERT_THAT(RevokeSha(absl::StrJoin(pairs, ":")), IsOk());
  EXPECT_TRUE(holder_.Get()->revocation_index().Contains(sha));
}

TEST_F(ControlPlaneTest, AStaleExpectedRevisionIsAbortedNamingBoth) {
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = TokenRoot();
  req.mutable_options()->set_expected_revision(1);
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, req); }, absl::StatusCode::kAborted,
                "expected revision 1, current is 2");
  req.mutable_options()->set_expected_revision(2);
  absl::StatusOr<v1::MutationResponse> r = cp_->AddRootAuthority(kAlice, req);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->revision(), 3u);
}

TEST_F(ControlPlaneTest, RemovingARootAnIssuerNeedsIsRefusedUnlessForced) {
  ASSERT_THAT(AddRoot(TokenRoot()), IsOk());
  ASSERT_THAT(AddIssuer(HrIssuer()), IsOk());
  ExpectRefused([&] { return RemoveRoot("token-root"); }, absl::StatusCode::kFailedPrecondition,
                "root authority token-root is still needed by issuers hr-app");
  ASSERT_THAT(RemoveRoot("token-root", /*force=*/true), IsOk());
  // The issuer stays, without a root: its tokens are refused.
  EXPECT_NE(holder_.Get()->FindIssuerByName("hr-app"), nullptr);
  EXPECT_EQ(holder_.Get()->FindRoot("token-root"), nullptr);
}

TEST_F(ControlPlaneTest, RemovingARootAPeerNamesIsRefusedUnlessForcedAndThePeerGoesInert) {
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  ASSERT_THAT(PutPeer(MakePeer(kPartner, {"fabrikam-root"})), IsOk());
  ExpectRefused([&] { return RemoveRoot("fabrikam-root"); }, absl::StatusCode::kFailedPrecondition,
                "root authority fabrikam-root is still needed by federation peers fabrikam.test");
  ASSERT_THAT(RemoveRoot("fabrikam-root", /*force=*/true), IsOk());
  const trust::PeerEntry* peer = holder_.Get()->FindPeer(kPartner);
  ASSERT_NE(peer, nullptr);
  EXPECT_THAT(peer->inert_reason, HasSubstr("root authority fabrikam-root was removed"));
}

TEST_F(ControlPlaneTest, RemovingTheRootOfConnectedNodesIsRefusedNamingThem) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const pki::IssuedCertificate fe2 = Pki().contoso.IssueNode("frontend", "fe2", "fe2.contoso.test");
  const uint64_t s1 = nodes_.Connect(NodeOf("fe1", fe1), 1);
  nodes_.Connect(NodeOf("fe2", fe2), 1);
  ExpectRefused([&] { return RemoveRoot("contoso-root"); }, absl::StatusCode::kFailedPrecondition,
                "root authority contoso-root anchors the identity of connected nodes "
                "spiffe://contoso.test/frontend/fe1, spiffe://contoso.test/frontend/fe2; "
                "re-issue their certificates under another root first or force the removal");
  // A disconnected node does not hold the removal up.
  nodes_.Disconnect(s1);
  ExpectRefused([&] { return RemoveRoot("contoso-root"); }, absl::StatusCode::kFailedPrecondition,
                "connected nodes spiffe://contoso.test/frontend/fe2; ");
  // The same root certificate in another local MTLS root keeps anchoring.
  ASSERT_THAT(AddRoot(MakeRoot("contoso-root-2", kDomain, Pki().contoso.RootPem(), {v1::MTLS})),
              IsOk());
  ASSERT_THAT(RemoveRoot("contoso-root"), IsOk());
}

TEST_F(ControlPlaneTest, AForcedRemovalOfTheRootOfConnectedNodesGoesThrough) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  nodes_.Connect(NodeOf("fe1", fe1), 1);
  ASSERT_THAT(AddRoot(MakeRoot("contoso-next", kDomain, Pki().fabrikam.RootPem(), {v1::MTLS})),
              IsOk());
  absl::StatusOr<v1::MutationResponse> r = RemoveRoot("contoso-root", /*force=*/true);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(holder_.Get()->FindRoot("contoso-root"), nullptr);
  EXPECT_EQ(Audit().back().after(), "forced");
}

TEST_F(ControlPlaneTest, RevokingACertificateOfAConnectedNodesChainIsRefusedUnlessForced) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  nodes_.Connect(NodeOf("fe1", fe1), 1);
  const std::string intermediate = Pki().contoso.intermediate().certificate.Sha256Hex();
  ExpectRefused([&] { return RevokeSha(intermediate); }, absl::StatusCode::kFailedPrecondition,
                absl::StrCat("certificate ", intermediate,
                             " is in the identity chain of connected nodes "
                             "spiffe://contoso.test/frontend/fe1"));
  ExpectRefused([&] { return RevokeSha(fe1.certificate.Sha256Hex()); },
                absl::StatusCode::kFailedPrecondition, "spiffe://contoso.test/frontend/fe1");
  ASSERT_THAT(RevokeSha(fe1.certificate.Sha256Hex(), /*force=*/true), IsOk());
  EXPECT_TRUE(holder_.Get()->revocation_index().Contains(fe1.certificate.Sha256Hex()));
}

TEST_F(ControlPlaneTest, PropagationWaitSucceedsWhenNodesApply) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const pki::IssuedCertificate fe2 = Pki().contoso.IssueNode("frontend", "fe2", "fe2.contoso.test");
  const uint64_t s1 = nodes_.Connect(NodeOf("fe1", fe1), 1);
  const uint64_t s2 = nodes_.Connect(NodeOf("fe2", fe2), 1);
  std::thread applier([&] {
    // Bounded: the nodes apply revision 2 once it exists.
    for (int i = 0; i < 500 && cp_->updates().revision() < 2; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    nodes_.Acked(s1, 2);
    nodes_.Acked(s2, 2);
  });
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = FabrikamRoot();
  req.mutable_options()->mutable_wait()->set_all_nodes(true);
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(10);
  absl::StatusOr<v1::MutationResponse> r = cp_->AddRootAuthority(kAlice, req);
  applier.join();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->revision(), 2u);
  EXPECT_EQ(r->connected_nodes(), 2u);
  EXPECT_EQ(r->applied_nodes(), 2u);
}

TEST_F(ControlPlaneTest, PropagationWaitTimesOutWithTheMutationDurable) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const pki::IssuedCertificate fe2 = Pki().contoso.IssueNode("frontend", "fe2", "fe2.contoso.test");
  const uint64_t s1 = nodes_.Connect(NodeOf("fe1", fe1), 1);
  nodes_.Connect(NodeOf("fe2", fe2), 1);
  std::thread applier([&] {
    for (int i = 0; i < 500 && cp_->updates().revision() < 2; ++i) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    nodes_.Acked(s1, 2);
  });
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = FabrikamRoot();
  req.mutable_options()->mutable_wait()->set_all_nodes(true);
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_nanos(300000000);
  absl::StatusOr<v1::MutationResponse> r = cp_->AddRootAuthority(kAlice, req);
  applier.join();
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          "revision 2 committed; 1 of 2 nodes applied it within 300ms"));
  EXPECT_EQ(cp_->revision(), 2u);
  EXPECT_NE(holder_.Get()->FindRoot("fabrikam-root"), nullptr);

  // min_nodes counts any node: one applied is enough for min_nodes = 1.
  v1::AddRootAuthorityRequest next;
  *next.mutable_root() = TokenRoot();
  next.mutable_options()->mutable_wait()->set_min_nodes(2);
  next.mutable_options()->mutable_wait()->mutable_timeout()->set_nanos(100000000);
  EXPECT_THAT(cp_->AddRootAuthority(kAlice, next),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "revision 3 committed; 0 of 2 nodes applied it within 100ms"));
  nodes_.Acked(s1, 3);
  v1::RemoveRootAuthorityRequest remove;
  remove.set_name("token-root");
  remove.mutable_options()->mutable_wait()->set_min_nodes(1);
  remove.mutable_options()->mutable_wait()->mutable_timeout()->set_nanos(100000000);
  // Nobody applies revision 4 either; the count is of revision 4.
  EXPECT_THAT(cp_->RemoveRootAuthority(kAlice, remove),
              StatusIs(absl::StatusCode::kDeadlineExceeded, "revision 4 committed; 0 of 1 nodes"));
}

TEST_F(ControlPlaneTest, PropagationWaitLongerThanFiveMinutesIsInvalid) {
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = FabrikamRoot();
  req.mutable_options()->mutable_wait()->set_all_nodes(true);
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(360);
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, req); },
                absl::StatusCode::kInvalidArgument,
                "options.wait.timeout: 6m exceeds the maximum of 5m");
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(-1);
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, req); },
                absl::StatusCode::kInvalidArgument, "options.wait.timeout: must be a non-negative");
}

TEST_F(ControlPlaneTest, ACallerDeadlineBoundsTheWait) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  nodes_.Connect(NodeOf("fe1", fe1), 1);
  v1::AddRootAuthorityRequest req;
  *req.mutable_root() = FabrikamRoot();
  req.mutable_options()->mutable_wait()->set_all_nodes(true);
  Caller caller = kAlice;
  caller.deadline = absl::Now() + absl::Milliseconds(200);
  const absl::Time start = absl::Now();
  EXPECT_THAT(cp_->AddRootAuthority(caller, req),
              StatusIs(absl::StatusCode::kDeadlineExceeded, "revision 2 committed; 0 of 1 nodes"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(ControlPlaneTest, AuditLogLimitsAndPaging) {
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  ASSERT_THAT(AddRoot(TokenRoot()), IsOk());
  v1::GetAuditLogRequest req;
  req.set_limit(20000);
  EXPECT_THAT(cp_->GetAuditLog(req), StatusIs(absl::StatusCode::kInvalidArgument,
                                              "limit: 20000 exceeds the maximum of 10000"));
  req.set_limit(0);
  req.set_since_revision(1);
  absl::StatusOr<v1::GetAuditLogResponse> resp = cp_->GetAuditLog(req);
  ASSERT_THAT(resp, IsOk());
  ASSERT_EQ(resp->records_size(), 2);
  EXPECT_EQ(resp->records(0).revision(), 2u);
  EXPECT_EQ(resp->records(1).revision(), 3u);
}

TEST_F(ControlPlaneTest, MutationCountsByOperationAndResult) {
  ASSERT_THAT(AddRoot(FabrikamRoot()), IsOk());
  EXPECT_THAT(AddRoot(FabrikamRoot()), StatusIs(absl::StatusCode::kAlreadyExists, ""));
  EXPECT_THAT(RemoveRoot("nope"), StatusIs(absl::StatusCode::kNotFound, ""));
  auto counts = cp_->MutationCounts();
  EXPECT_EQ((counts[{"root.add", "ok"}]), 1u);
  EXPECT_EQ((counts[{"root.add", "already_exists"}]), 1u);
  EXPECT_EQ((counts[{"root.remove", "not_found"}]), 1u);
}

TEST_F(ControlPlaneTest, PropagationStatusListsKnownNodes) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const uint64_t s = nodes_.Connect(NodeOf("fe1", fe1), 1);
  nodes_.Nacked(s, 2, "bad");
  nodes_.Disconnect(s);
  v1::GetPropagationStatusResponse status = cp_->GetPropagationStatus();
  EXPECT_EQ(status.revision(), 1u);
  ASSERT_EQ(status.nodes_size(), 1);
  const v1::NodeStatus& n = status.nodes(0);
  EXPECT_EQ(n.spiffe_id(), "spiffe://contoso.test/frontend/fe1");
  EXPECT_FALSE(n.connected());
  EXPECT_EQ(n.applied_revision(), 1u);
  EXPECT_EQ(n.last_nack_revision(), 2u);
  EXPECT_EQ(n.last_nack_reason(), "bad");
  EXPECT_EQ(n.anchoring_root(), "contoso-root");
  EXPECT_EQ(n.chain_sha256_size(), 3);
  EXPECT_EQ(FromProtoTime(n.identity_not_after()), fe1.certificate.NotAfter());
}

}  // namespace
}  // namespace trustfabric::control
