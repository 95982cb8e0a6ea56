// ControlPlane (the gRPC-free domain class): seeding, every mutation, every
// refusal with its code and the field it names (and that nothing is stored
// then), compare-and-swap, forced removals, safe rotation against connected
// nodes, propagation waits and the audit log.
#include "server/control/control_plane.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/control/sqlite_store.h"
#include "tests/common/trust/trust_fixture.h"
#include "tests/testing/eventually.h"
#include "tests/testing/reencode.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

using testing::Eventually;
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
  node.chain = VerifiedChainFacts(
      node.chain_sha256,
      {leaf.certificate, Pki().contoso.intermediate().certificate,
       Pki().contoso.root().certificate},
      nullptr, CertificateSource::kNodeIdentity);
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

  // ControlPlane::Create with `opts` on a new, empty store (the fixture's
  // control plane is stopped first).
  absl::Status CreateOnAnEmptyStore(ControlPlane::Options opts) {
    cp_.reset();
    testing::TempDir other;
    SqliteStore::Options store;
    store.path = other.path() + "/control.db";
    TF_ASSIGN_OR_RETURN(std::unique_ptr<SqliteStore> s, SqliteStore::Open(store));
    trust::SnapshotHolder holder;
    return ControlPlane::Create(std::move(opts), std::move(s), &holder, &nodes_).status();
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

  // Runs `mutation` (by kAlice), expects `code` with `message`, that the
  // state did not change, and that the audit log gained exactly the record
  // of the refusal: who, what, why, at the unchanged revision.
  template <typename F>
  void ExpectRefused(F mutation, absl::StatusCode code, const std::string& message) {
    const uint64_t revision = cp_->revision();
    const size_t audit = Audit().size();
    absl::StatusOr<v1::MutationResponse> result = mutation();
    EXPECT_THAT(result, StatusIs(code, message));
    EXPECT_EQ(cp_->revision(), revision);
    EXPECT_EQ(holder_.Get()->revision(), revision);
    const std::vector<v1::AuditRecord> after = Audit();
    ASSERT_EQ(after.size(), audit + 1);
    const v1::AuditRecord& refusal = after.back();
    EXPECT_EQ(refusal.actor(), kAlice.actor);
    EXPECT_FALSE(refusal.operation().empty());
    EXPECT_EQ(refusal.result(), CodeName(code));
    EXPECT_THAT(refusal.reason(), HasSubstr(message));
    EXPECT_EQ(refusal.revision(), revision);
    EXPECT_TRUE(refusal.before().empty() && refusal.after().empty());
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
  absl::StatusOr<v1::MutationResponse> RevokeSha(const std::string& sha, bool force = false,
                                                 bool der_only = false) {
    v1::RevokeCertificateRequest req;
    req.set_sha256_hex(sha);
    req.set_reason("key compromise");
    req.set_force(force);
    req.set_der_only(der_only);
    return cp_->RevokeCertificate(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> Revoke(v1::RevokeCertificateRequest req) {
    if (req.reason().empty()) req.set_reason("key compromise");
    return cp_->RevokeCertificate(kAlice, req);
  }
  absl::StatusOr<v1::MutationResponse> Unrevoke(const std::string& key_or_sha) {
    v1::UnrevokeCertificateRequest req;
    req.set_sha256_hex(key_or_sha);
    return cp_->UnrevokeCertificate(kAlice, req);
  }
  // What a node reports having accepted, as its Watch stream passes it on.
  void Report(const std::vector<pki::Certificate>& certs) {
    std::vector<std::string> ders;
    for (const pki::Certificate& c : certs) ders.push_back(c.der());
    const std::vector<absl::string_view> views(ders.begin(), ders.end());
    cp_->certificates().AddReport("spiffe://contoso.test/edge/edge1", views);
  }
  // The revocations as listed, by key.
  std::map<std::string, v1::RevocationListing> Listed() {
    std::map<std::string, v1::RevocationListing> out;
    const v1::ListRevocationsResponse listing = cp_->ListRevocations();
    for (const v1::RevocationListing& l : listing.revocations()) out[l.key()] = l;
    return out;
  }
  // Connects contoso frontend `name` (<name>.contoso.test) at revision 1;
  // returns its session.
  uint64_t ConnectFrontend(const std::string& name) {
    const pki::IssuedCertificate leaf =
        Pki().contoso.IssueNode("frontend", name, name + ".contoso.test");
    return nodes_.Connect(NodeOf(name, leaf), 1);
  }
  // A request that adds the fabrikam root and waits for every node to apply
  // it (for the timeout the caller sets).
  v1::AddRootAuthorityRequest FabrikamRootForAllNodes() const {
    v1::AddRootAuthorityRequest req;
    *req.mutable_root() = FabrikamRoot();
    req.mutable_options()->mutable_wait()->set_all_nodes(true);
    return req;
  }
  // A node connected as its Watch stream connects it.
  uint64_t ConnectNode(const NodeIdentity& node) {
    cp_->certificates().AddKnown(node.chain);
    return nodes_.Connect(node, 1);
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
  ControlPlane::Options opts = DefaultOptions();
  opts.seed_root_pem.clear();
  EXPECT_THAT(CreateOnAnEmptyStore(opts),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "the store is empty and no seed root is configured"));
}

TEST_F(ControlPlaneTest, AnInvalidSeedRootIsRefusedNamingIt) {
  ControlPlane::Options opts = DefaultOptions();
  opts.seed_root_pem = "not a pem";
  EXPECT_THAT(CreateOnAnEmptyStore(opts),
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
  const std::string hr_key = "certificate:" + Pki().hr_signing.certificate.TbsSha256Hex();
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
      // The issuer's certificate is known: its DER hash resolves to it.
      {"revocation.add", hr_key, [&] { return RevokeSha(hr_sha); }},
      {"revocation.remove", hr_key,
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
  EXPECT_THAT(audit[1].after(), HasSubstr("purposes=token-signing"));
  EXPECT_THAT(audit[2].after(), HasSubstr(absl::StrCat("registered_issuer_name=\"", kHrGuid)));
  EXPECT_THAT(audit[2].after(),
              HasSubstr(absl::StrCat("sha256=", Pki().hr_signing.certificate.Sha256Hex())));
  EXPECT_EQ(audit[3].operation(), "root.remove");
  EXPECT_THAT(audit[3].before(), HasSubstr("purposes=token-signing"));
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
                    ") does not chain to a token-signing root authority");
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
                absl::StatusCode::kInvalidArgument,
                "target: set certificate_pem, sha256_hex, tbs_sha256_hex, key_sha256_hex or "
                "issuer_serial");
  ExpectRefused([&] { return RevokeSha("abc"); }, absl::StatusCode::kInvalidArgument,
                "sha256_hex: \"abc\" is not a sha-256");
  v1::RevokeCertificateRequest bad_pem;
  bad_pem.set_certificate_pem("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n");
  ExpectRefused([&] { return cp_->RevokeCertificate(kAlice, bad_pem); },
                absl::StatusCode::kInvalidArgument, "certificate_pem: ");
  v1::RevokeCertificateRequest tbs;
  tbs.set_tbs_sha256_hex("12");
  ExpectRefused([&] { return Revoke(tbs); }, absl::StatusCode::kInvalidArgument,
                "tbs_sha256_hex: \"12\" is not a sha-256");
  v1::RevokeCertificateRequest key;
  key.set_key_sha256_hex("zz");
  ExpectRefused([&] { return Revoke(key); }, absl::StatusCode::kInvalidArgument,
                "key_sha256_hex: \"zz\"");
  v1::RevokeCertificateRequest serial;
  serial.mutable_issuer_serial()->set_issuer_spki_sha256_hex(std::string(64, 'a'));
  serial.mutable_issuer_serial()->set_serial_hex("xy");
  ExpectRefused([&] { return Revoke(serial); }, absl::StatusCode::kInvalidArgument,
                "issuer_serial.serial_hex: ");
  serial.mutable_issuer_serial()->set_issuer_spki_sha256_hex("a");
  ExpectRefused([&] { return Revoke(serial); }, absl::StatusCode::kInvalidArgument,
                "issuer_serial.issuer_spki_sha256_hex: ");
  tbs.set_tbs_sha256_hex(std::string(64, 'a'));
  tbs.set_revoke_key(true);
  ExpectRefused([&] { return Revoke(tbs); }, absl::StatusCode::kInvalidArgument,
                "revoke_key: only with a certificate target");
  v1::RevokeCertificateRequest pem_der_only;
  pem_der_only.set_certificate_pem(Pki().hr_signing.certificate.ToPem());
  pem_der_only.set_der_only(true);
  ExpectRefused([&] { return Revoke(pem_der_only); }, absl::StatusCode::kInvalidArgument,
                "der_only: only with sha256_hex");
  const std::string sha = std::string(64, 'a');
  ASSERT_THAT(RevokeSha(sha, false, /*der_only=*/true), IsOk());
  ExpectRefused([&] { return RevokeSha(sha, false, /*der_only=*/true); },
                absl::StatusCode::kAlreadyExists, absl::StrCat("revocation ", sha));
  ExpectRefused([&] { return Unrevoke(std::string(64, 'b')); }, absl::StatusCode::kNotFound,
                "does not exist");
  ExpectRefused([&] { return Unrevoke("xyz"); }, absl::StatusCode::kInvalidArgument,
                "sha256_hex: \"xyz\"");
  ExpectRefused([&] { return Unrevoke("certificate:xyz"); }, absl::StatusCode::kInvalidArgument,
                "is not a revocation key");
  ExpectRefused([&] { return Unrevoke(absl::StrCat("key:", std::string(64, 'c'))); },
                absl::StatusCode::kNotFound,
                absl::StrCat("revocation key:", std::string(64, 'c'), " does not exist"));
}

TEST_F(ControlPlaneTest, RevocationByPemRevokesTheSignedBodyAndRecordsSubjectAndHash) {
  v1::RevokeCertificateRequest by_pem;
  by_pem.set_certificate_pem(Pki().hr_signing.certificate.ToPem());
  by_pem.set_reason("retired");
  ASSERT_THAT(cp_->RevokeCertificate(kAlice, by_pem), IsOk());
  v1::TrustSnapshot snap = cp_->GetSnapshot();
  ASSERT_EQ(snap.revocations_size(), 1);
  const v1::Revocation& r = snap.revocations(0);
  EXPECT_EQ(r.kind(), v1::REVOCATION_CERTIFICATE);
  EXPECT_EQ(r.tbs_sha256_hex(), Pki().hr_signing.certificate.TbsSha256Hex());
  EXPECT_EQ(r.sha256_hex(), Pki().hr_signing.certificate.Sha256Hex());
  EXPECT_EQ(r.subject(), Pki().hr_signing.certificate.Subject());
  EXPECT_EQ(r.reason(), "retired");
  EXPECT_EQ(FromProtoTime(r.revoked_at()), now_);
  EXPECT_THAT(Audit().back().after(), HasSubstr("subject="));
  EXPECT_EQ(Audit().back().object(),
            absl::StrCat("certificate:", Pki().hr_signing.certificate.TbsSha256Hex()));

  // With revoke_key: the key, every certificate carrying it.
  by_pem.set_revoke_key(true);
  ASSERT_THAT(cp_->RevokeCertificate(kAlice, by_pem), IsOk());
  std::map<std::string, v1::RevocationListing> listed = Listed();
  const std::string key = absl::StrCat("key:", Pki().hr_signing.certificate.SpkiSha256Hex());
  ASSERT_TRUE(listed.count(key));
  EXPECT_EQ(listed[key].revocation().kind(), v1::REVOCATION_KEY);
  EXPECT_EQ(listed[key].revocation().sha256_hex(), Pki().hr_signing.certificate.Sha256Hex());
  EXPECT_FALSE(listed[key].weak());
  // The same body again.
  by_pem.set_revoke_key(false);
  ExpectRefused([&] { return cp_->RevokeCertificate(kAlice, by_pem); },
                absl::StatusCode::kAlreadyExists,
                absl::StrCat("certificate:", Pki().hr_signing.certificate.TbsSha256Hex()));
}

TEST_F(ControlPlaneTest, BodyKeyAndIssuerSerialTargetsAreStoredInCanonicalForm) {
  const pki::Certificate& cert = Pki().ec_signing.certificate;
  auto openssl_form = [](const std::string& hex) {
    std::vector<std::string> pairs;
    for (size_t i = 0; i < hex.size(); i += 2) {
      pairs.push_back(absl::AsciiStrToUpper(hex.substr(i, 2)));
    }
    return absl::StrJoin(pairs, ":");
  };
  v1::RevokeCertificateRequest tbs;
  tbs.set_tbs_sha256_hex(openssl_form(cert.TbsSha256Hex()));
  ASSERT_THAT(Revoke(tbs), IsOk());
  v1::RevokeCertificateRequest key;
  key.set_key_sha256_hex(openssl_form(cert.SpkiSha256Hex()));
  ASSERT_THAT(Revoke(key), IsOk());
  v1::RevokeCertificateRequest serial;
  serial.mutable_issuer_serial()->set_issuer_spki_sha256_hex(
      openssl_form(Pki().contoso.intermediate().certificate.SpkiSha256Hex()));
  serial.mutable_issuer_serial()->set_serial_hex("00:0A:BC");
  ASSERT_THAT(Revoke(serial), IsOk());

  std::map<std::string, v1::RevocationListing> listed = Listed();
  const std::string serial_key = absl::StrCat(
      "serial:", Pki().contoso.intermediate().certificate.SpkiSha256Hex(), ":abc");
  ASSERT_EQ(listed.size(), 3u);
  ASSERT_TRUE(listed.count("certificate:" + cert.TbsSha256Hex()));
  ASSERT_TRUE(listed.count("key:" + cert.SpkiSha256Hex()));
  ASSERT_TRUE(listed.count(serial_key));
  EXPECT_EQ(listed[serial_key].revocation().kind(), v1::REVOCATION_ISSUER_SERIAL);
  EXPECT_EQ(listed[serial_key].revocation().serial_hex(), "abc");
  for (const auto& [k, l] : listed) {
    EXPECT_FALSE(l.weak()) << k;
    EXPECT_EQ(l.revocation().sha256_hex(), "") << k;
  }
  EXPECT_EQ(cp_->GetPropagationStatus().der_only_revocations(), 0u);
  // Each is withdrawn by its key as listed.
  ASSERT_THAT(Unrevoke(serial_key), IsOk());
  ASSERT_THAT(Unrevoke("KEY:" + absl::AsciiStrToUpper(cert.SpkiSha256Hex())), IsOk());
  EXPECT_EQ(Listed().size(), 1u);
}

TEST_F(ControlPlaneTest, ADerHashANodeReportedResolvesToTheCertificate) {
  const pki::IssuedCertificate edge =
      Pki().fabrikam.IssueNode("edge", "edge1", "edge1.fabrikam.test");
  Report({edge.certificate, Pki().fabrikam.intermediate().certificate});
  absl::StatusOr<v1::MutationResponse> r = RevokeSha(edge.certificate.Sha256Hex());
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->warnings(), SizeIs(0));
  std::map<std::string, v1::RevocationListing> listed = Listed();
  const std::string key = "certificate:" + edge.certificate.TbsSha256Hex();
  ASSERT_TRUE(listed.count(key));
  const v1::Revocation& revocation = listed[key].revocation();
  EXPECT_EQ(revocation.kind(), v1::REVOCATION_CERTIFICATE);
  EXPECT_EQ(revocation.sha256_hex(), edge.certificate.Sha256Hex());
  EXPECT_EQ(revocation.subject(), edge.certificate.Subject());
  EXPECT_FALSE(listed[key].weak());
  // What is stored refuses the certificate re-encoded (another DER hash).
  absl::StatusOr<std::string> twin_der = testing::ReencodeEcdsaSignature(edge.certificate.der());
  ASSERT_THAT(twin_der, IsOk());
  absl::StatusOr<pki::Certificate> twin = pki::Certificate::FromDer(*twin_der);
  ASSERT_THAT(twin, IsOk());
  ASSERT_NE(twin->Sha256Hex(), edge.certificate.Sha256Hex());
  std::optional<pki::RevokedCertificate> refused =
      holder_.Get()->revocation_index().FirstRevoked(std::vector<pki::Certificate>{*twin});
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->key, key);

  // The same DER hash with revoke_key: the key.
  v1::RevokeCertificateRequest by_key;
  by_key.set_sha256_hex(edge.certificate.Sha256Hex());
  by_key.set_revoke_key(true);
  ASSERT_THAT(Revoke(by_key), IsOk());
  EXPECT_TRUE(Listed().count("key:" + edge.certificate.SpkiSha256Hex()));
  // Again by DER hash: the same key, already revoked.
  ExpectRefused([&] { return RevokeSha(edge.certificate.Sha256Hex()); },
                absl::StatusCode::kAlreadyExists, key);
}

TEST_F(ControlPlaneTest, AnUnresolvableDerHashIsRefusedWithoutDerOnlyAndStoredWeakWithIt) {
  const pki::IssuedCertificate edge =
      Pki().fabrikam.IssueNode("edge", "edge9", "edge9.fabrikam.test");
  const std::string sha = edge.certificate.Sha256Hex();
  ExpectRefused([&] { return RevokeSha(sha); }, absl::StatusCode::kFailedPrecondition,
                absl::StrCat("sha256_hex: certificate ", sha,
                             " is not known to the control plane: no node reported it"));
  ExpectRefused([&] { return RevokeSha(sha); }, absl::StatusCode::kFailedPrecondition,
                "revoke the certificate file (--certificate) or pass der_only");

  absl::StatusOr<v1::MutationResponse> r = RevokeSha(sha, false, /*der_only=*/true);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(r->warnings(), SizeIs(1));
  EXPECT_THAT(r->warnings(0),
              HasSubstr(absl::StrCat("revocation ", sha,
                                     " is der-only: a re-encoded copy of the certificate is not "
                                     "refused")));
  std::map<std::string, v1::RevocationListing> listed = Listed();
  ASSERT_TRUE(listed.count(sha));
  EXPECT_TRUE(listed[sha].weak());
  EXPECT_EQ(listed[sha].revocation().kind(), v1::REVOCATION_DER_ONLY);
  EXPECT_EQ(cp_->GetPropagationStatus().der_only_revocations(), 1u);
}

TEST_F(ControlPlaneTest, ALegacyDerOnlyRevocationIsUpgradedOnceANodeReportsTheCertificate) {
  const pki::IssuedCertificate edge =
      Pki().fabrikam.IssueNode("edge", "edge1", "edge1.fabrikam.test");
  const std::string sha = edge.certificate.Sha256Hex();
  // A revocation as stored before revocation kinds existed: a DER hash, a
  // reason and a time.
  cp_.reset();
  {
    SqliteStore::Options options;
    options.path = dir_.path() + "/control.db";
    absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(options);
    ASSERT_THAT(store, IsOk());
    Mutation legacy;
    legacy.expected_revision = 1;
    legacy.trust_domain = kDomain;
    legacy.realm = kRealm;
    legacy.time = now_;
    v1::Revocation* r = legacy.changes.emplace_back().mutable_put_revocation();
    r->set_sha256_hex(sha);
    r->set_reason("stolen laptop");
    *r->mutable_revoked_at() = ToProtoTime(now_ - absl::Hours(24));
    ASSERT_THAT((*store)->Commit(legacy), IsOk());
  }
  cp_ = Make();
  ASSERT_NE(cp_, nullptr);
  ASSERT_EQ(cp_->revision(), 2u);
  EXPECT_EQ(cp_->GetPropagationStatus().der_only_revocations(), 1u);

  // A node reports having accepted the certificate.
  Report({edge.certificate});
  const std::string key = "certificate:" + edge.certificate.TbsSha256Hex();
  // The new snapshot is readable a moment before the upgrade is counted.
  ASSERT_TRUE(
      Eventually([&] { return Listed().count(key) == 1 && cp_->revocations_upgraded() > 0; }));
  EXPECT_EQ(cp_->revision(), 3u);
  std::map<std::string, v1::RevocationListing> listed = Listed();
  ASSERT_EQ(listed.size(), 1u);
  const v1::Revocation& upgraded = listed[key].revocation();
  EXPECT_EQ(upgraded.kind(), v1::REVOCATION_CERTIFICATE);
  EXPECT_EQ(upgraded.sha256_hex(), sha);
  EXPECT_EQ(upgraded.reason(), "stolen laptop");
  EXPECT_EQ(FromProtoTime(upgraded.revoked_at()), now_ - absl::Hours(24));
  EXPECT_EQ(upgraded.subject(), edge.certificate.Subject());
  EXPECT_FALSE(listed[key].weak());
  EXPECT_EQ(cp_->GetPropagationStatus().der_only_revocations(), 0u);
  EXPECT_EQ(cp_->revocations_upgraded(), 1u);
  // One mutation, audited under the upgrade's actor.
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_GE(audit.size(), 2u);
  for (size_t i = audit.size() - 2; i < audit.size(); ++i) {
    EXPECT_EQ(audit[i].revision(), 3u);
    EXPECT_EQ(audit[i].actor(), kRevocationUpgradeActor);
  }
  EXPECT_EQ(audit[audit.size() - 2].operation(), "revocation.remove");
  EXPECT_EQ(audit[audit.size() - 2].object(), sha);
  EXPECT_EQ(audit.back().operation(), "revocation.add");
  EXPECT_EQ(audit.back().object(), key);
  // Reported again: nothing more to do.
  Report({edge.certificate});
  EXPECT_EQ(cp_->revision(), 3u);
}

TEST_F(ControlPlaneTest, ADerOnlyRevocationStoredWithAWarningIsUpgradedWhenReported) {
  const pki::IssuedCertificate edge =
      Pki().fabrikam.IssueNode("edge", "edge1", "edge1.fabrikam.test");
  ASSERT_THAT(RevokeSha(edge.certificate.Sha256Hex(), false, /*der_only=*/true), IsOk());
  Report({edge.certificate, Pki().fabrikam.intermediate().certificate});
  ASSERT_TRUE(Eventually(
      [&] { return Listed().count("certificate:" + edge.certificate.TbsSha256Hex()) == 1; }));
  EXPECT_EQ(Listed().size(), 1u);
  EXPECT_EQ(Listed().begin()->second.revocation().reason(), "key compromise");
}

TEST_F(ControlPlaneTest, UnrevokeByDerHashRemovesEveryRevocationRequestedByIt) {
  const pki::IssuedCertificate edge =
      Pki().fabrikam.IssueNode("edge", "edge1", "edge1.fabrikam.test");
  Report({edge.certificate});
  ASSERT_THAT(RevokeSha(edge.certificate.Sha256Hex()), IsOk());
  v1::RevokeCertificateRequest by_key;
  by_key.set_certificate_pem(edge.certificate.ToPem());
  by_key.set_revoke_key(true);
  ASSERT_THAT(Revoke(by_key), IsOk());
  v1::RevokeCertificateRequest other;
  other.set_key_sha256_hex(Pki().ec_signing.certificate.SpkiSha256Hex());
  ASSERT_THAT(Revoke(other), IsOk());
  ASSERT_EQ(Listed().size(), 3u);
  const uint64_t before = cp_->revision();

  absl::StatusOr<v1::MutationResponse> r = Unrevoke(edge.certificate.Sha256Hex());
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->revision(), before + 1);
  std::map<std::string, v1::RevocationListing> listed = Listed();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_TRUE(listed.count("key:" + Pki().ec_signing.certificate.SpkiSha256Hex()));
  std::vector<v1::AuditRecord> audit = Audit();
  ASSERT_GE(audit.size(), 2u);
  EXPECT_EQ(audit[audit.size() - 2].revision(), before + 1);
  EXPECT_EQ(audit.back().revision(), before + 1);
  EXPECT_EQ(audit.back().operation(), "revocation.remove");
  ExpectRefused([&] { return Unrevoke(edge.certificate.Sha256Hex()); },
                absl::StatusCode::kNotFound, "does not exist");
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
  const uint64_t s1 = ConnectFrontend("fe1");
  ConnectFrontend("fe2");
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
  ConnectFrontend("fe1");
  ASSERT_THAT(AddRoot(MakeRoot("contoso-next", kDomain, Pki().fabrikam.RootPem(), {v1::MTLS})),
              IsOk());
  absl::StatusOr<v1::MutationResponse> r = RemoveRoot("contoso-root", /*force=*/true);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(holder_.Get()->FindRoot("contoso-root"), nullptr);
  EXPECT_EQ(Audit().back().after(), "forced");
}

TEST_F(ControlPlaneTest, RevokingACertificateOfAConnectedNodesChainIsRefusedUnlessForced) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  ConnectNode(NodeOf("fe1", fe1));
  const pki::Certificate& intermediate = Pki().contoso.intermediate().certificate;
  ExpectRefused([&] { return RevokeSha(intermediate.Sha256Hex()); },
                absl::StatusCode::kFailedPrecondition,
                absl::StrCat("revocation certificate:", intermediate.TbsSha256Hex(),
                             " matches certificate ", intermediate.Sha256Hex(),
                             " (\"", intermediate.Subject(),
                             "\") in the identity chain of connected nodes "
                             "spiffe://contoso.test/frontend/fe1; re-issue their certificates "
                             "first or force the revocation"));
  ExpectRefused([&] { return RevokeSha(fe1.certificate.Sha256Hex()); },
                absl::StatusCode::kFailedPrecondition, "spiffe://contoso.test/frontend/fe1");
  ASSERT_THAT(RevokeSha(fe1.certificate.Sha256Hex(), /*force=*/true), IsOk());
  EXPECT_TRUE(Listed().count("certificate:" + fe1.certificate.TbsSha256Hex()));
}

TEST_F(ControlPlaneTest, SafeRotationChecksKeyAndIssuerSerialRevocationsToo) {
  const pki::IssuedCertificate fe1 = Pki().contoso.IssueNode("frontend", "fe1", "fe1.contoso.test");
  const pki::IssuedCertificate fe2 = Pki().contoso.IssueNode("frontend", "fe2", "fe2.contoso.test");
  ConnectNode(NodeOf("fe1", fe1));
  ConnectNode(NodeOf("fe2", fe2));
  const pki::Certificate& intermediate = Pki().contoso.intermediate().certificate;
  // fe1's key: fe1 only.
  v1::RevokeCertificateRequest key;
  key.set_key_sha256_hex(fe1.certificate.SpkiSha256Hex());
  ExpectRefused([&] { return Revoke(key); }, absl::StatusCode::kFailedPrecondition,
                "in the identity chain of connected nodes spiffe://contoso.test/frontend/fe1; ");
  // The intermediate's key: both.
  key.set_key_sha256_hex(intermediate.SpkiSha256Hex());
  ExpectRefused([&] { return Revoke(key); }, absl::StatusCode::kFailedPrecondition,
                "connected nodes spiffe://contoso.test/frontend/fe1, "
                "spiffe://contoso.test/frontend/fe2; ");
  // fe2 by issuer + serial.
  v1::RevokeCertificateRequest serial;
  serial.mutable_issuer_serial()->set_issuer_spki_sha256_hex(intermediate.SpkiSha256Hex());
  serial.mutable_issuer_serial()->set_serial_hex(fe2.certificate.SerialHex());
  ExpectRefused([&] { return Revoke(serial); }, absl::StatusCode::kFailedPrecondition,
                "connected nodes spiffe://contoso.test/frontend/fe2; ");
  // The root's signed body.
  v1::RevokeCertificateRequest root;
  root.set_tbs_sha256_hex(Pki().contoso.root().certificate.TbsSha256Hex());
  ExpectRefused([&] { return Revoke(root); }, absl::StatusCode::kFailedPrecondition,
                "spiffe://contoso.test/frontend/fe1, spiffe://contoso.test/frontend/fe2");
  // Another serial of the same issuer refuses nobody.
  serial.mutable_issuer_serial()->set_serial_hex("01");
  ASSERT_THAT(Revoke(serial), IsOk());
  key.set_force(true);
  ASSERT_THAT(Revoke(key), IsOk());
}

TEST_F(ControlPlaneTest, PropagationWaitSucceedsWhenNodesApply) {
  const uint64_t s1 = ConnectFrontend("fe1");
  const uint64_t s2 = ConnectFrontend("fe2");
  std::thread applier([&] {
    // The nodes apply revision 2 once it exists.
    EXPECT_TRUE(Eventually([&] { return cp_->updates().revision() >= 2; }));
    nodes_.Acked(s1, 2);
    nodes_.Acked(s2, 2);
  });
  v1::AddRootAuthorityRequest req = FabrikamRootForAllNodes();
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(10);
  absl::StatusOr<v1::MutationResponse> r = cp_->AddRootAuthority(kAlice, req);
  applier.join();
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->revision(), 2u);
  EXPECT_EQ(r->connected_nodes(), 2u);
  EXPECT_EQ(r->applied_nodes(), 2u);
}

TEST_F(ControlPlaneTest, PropagationWaitTimesOutWithTheMutationDurable) {
  const uint64_t s1 = ConnectFrontend("fe1");
  ConnectFrontend("fe2");
  std::thread applier([&] {
    EXPECT_TRUE(Eventually([&] { return cp_->updates().revision() >= 2; }));
    nodes_.Acked(s1, 2);
  });
  v1::AddRootAuthorityRequest req = FabrikamRootForAllNodes();
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
  v1::AddRootAuthorityRequest req = FabrikamRootForAllNodes();
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(360);
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, req); },
                absl::StatusCode::kInvalidArgument,
                "options.wait.timeout: 6m exceeds the maximum of 5m");
  req.mutable_options()->mutable_wait()->mutable_timeout()->set_seconds(-1);
  ExpectRefused([&] { return cp_->AddRootAuthority(kAlice, req); },
                absl::StatusCode::kInvalidArgument, "options.wait.timeout: must be a non-negative");
}

TEST_F(ControlPlaneTest, ACallerDeadlineBoundsTheWait) {
  ConnectFrontend("fe1");
  v1::AddRootAuthorityRequest req = FabrikamRootForAllNodes();
  Caller caller = kAlice;
  caller.deadline = absl::Now() + absl::Milliseconds(200);
  constexpr absl::string_view kTimedOut = "revision 2 committed; 0 of 1 nodes applied it within ";
  absl::StatusOr<v1::MutationResponse> r = cp_->AddRootAuthority(caller, req);
  ASSERT_THAT(r, StatusIs(absl::StatusCode::kDeadlineExceeded, kTimedOut));
  // The wait was the caller's remaining 200 ms at most, not the default 10 s.
  absl::Duration waited;
  ASSERT_TRUE(absl::ParseDuration(absl::StripPrefix(r.status().message(), kTimedOut), &waited))
      << r.status();
  EXPECT_LE(waited, absl::Milliseconds(200));
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
