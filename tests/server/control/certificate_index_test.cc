// CertificateIndex: what a DER hash resolves to, where issuers come from,
// the bounds (per report, per node, in all), malformed reports, and the
// listener that drives upgrades of DER-only revocations.
#include "server/control/certificate_index.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::control {
namespace {

const testing::TestDomain& Contoso() {
  static const testing::TestDomain* domain = new testing::TestDomain("contoso.test");
  return *domain;
}
const testing::TestDomain& Fabrikam() {
  static const testing::TestDomain* domain = new testing::TestDomain("fabrikam.test");
  return *domain;
}

std::vector<absl::string_view> Views(const std::vector<std::string>& ders) {
  return {ders.begin(), ders.end()};
}

TEST(CertificateIndexTest, AReportedChainResolvesToBodyKeySerialAndIssuerKey) {
  CertificateIndex index;
  const pki::IssuedCertificate edge = Fabrikam().IssueNode("edge", "edge1", "edge1.fabrikam.test");
  const pki::Certificate& intermediate = Fabrikam().intermediate().certificate;
  const std::vector<std::string> ders = {edge.certificate.der(), intermediate.der()};

  CertificateIndex::ReportResult r =
      index.AddReport("spiffe://contoso.test/edge/edge1", Views(ders));
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.malformed, 0u);

  std::optional<CertificateFacts> facts = index.Find(edge.certificate.Sha256Hex());
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->tbs_sha256_hex, edge.certificate.TbsSha256Hex());
  EXPECT_EQ(facts->spki_sha256_hex, edge.certificate.SpkiSha256Hex());
  EXPECT_EQ(facts->serial_hex, *pki::CanonicalSerialHex(edge.certificate.SerialHex()));
  // The issuer was in the same report, after its leaf.
  EXPECT_EQ(facts->issuer_spki_sha256_hex, intermediate.SpkiSha256Hex());
  EXPECT_EQ(facts->subject, edge.certificate.Subject());
  EXPECT_EQ(facts->source, CertificateSource::kPeerReport);
  EXPECT_EQ(facts->reporter, "spiffe://contoso.test/edge/edge1");
  // The intermediate's issuer (the root) was not reported.
  EXPECT_EQ(index.Find(intermediate.Sha256Hex())->issuer_spki_sha256_hex, "");
  EXPECT_FALSE(index.Find(Fabrikam().root().certificate.Sha256Hex()).has_value());
}

TEST(CertificateIndexTest, AnIssuerIsOnlyTakenWhenItSignedTheCertificate) {
  CertificateIndex index;
  // A same-named impostor of fabrikam's intermediate (same names, another
  // key) in the same report must not be taken as the edge's issuer.
  const testing::TestDomain impostor("fabrikam.test");
  const pki::IssuedCertificate edge = Fabrikam().IssueNode("edge", "edge1", "edge1.fabrikam.test");
  const std::vector<std::string> ders = {edge.certificate.der(),
                                         impostor.intermediate().certificate.der()};
  index.AddReport("spiffe://contoso.test/edge/edge1", Views(ders));
  EXPECT_EQ(index.Find(edge.certificate.Sha256Hex())->issuer_spki_sha256_hex, "");
}

TEST(CertificateIndexTest, MalformedEntriesAreCountedAndDroppedTheRestIsIndexed) {
  CertificateIndex::Options options;
  options.max_der_bytes = 4096;
  CertificateIndex index(options);
  const pki::IssuedCertificate edge = Fabrikam().IssueNode("edge", "edge1", "edge1.fabrikam.test");
  std::string truncated = edge.certificate.der().substr(0, 100);
  std::string trailing = edge.certificate.der() + "x";
  const std::vector<std::string> ders = {"",
                                         "not a certificate",
                                         truncated,
                                         trailing,
                                         std::string(5000, '\x30'),
                                         edge.certificate.der(),
                                         edge.certificate.der()};
  CertificateIndex::ReportResult r = index.AddReport("spiffe://contoso.test/edge/e", Views(ders));
  EXPECT_EQ(r.malformed, 5u);
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.duplicates, 1u);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.counters().reported_malformed, 5u);
  EXPECT_TRUE(index.Find(edge.certificate.Sha256Hex()).has_value());
}

TEST(CertificateIndexTest, AReportIsCutAtItsLimit) {
  CertificateIndex::Options options;
  options.max_per_report = 2;
  CertificateIndex index(options);
  std::vector<std::string> ders;
  for (int i = 0; i < 5; ++i) {
    ders.push_back(
        Fabrikam().IssueNode("edge", absl::StrCat("e", i), "e.fabrikam.test").certificate.der());
  }
  CertificateIndex::ReportResult r = index.AddReport("spiffe://contoso.test/edge/e", Views(ders));
  EXPECT_EQ(r.added, 2u);
  EXPECT_EQ(r.dropped, 3u);
  EXPECT_EQ(index.size(), 2u);
}

TEST(CertificateIndexTest, ANodeHoldsAtMostItsShareAndTheOldestReportsAreEvicted) {
  CertificateIndex::Options options;
  options.max_reported = 4;
  options.max_reported_per_node = 3;
  CertificateIndex index(options);
  std::vector<pki::Certificate> certs;
  for (int i = 0; i < 6; ++i) {
    certs.push_back(
        Fabrikam().IssueNode("edge", absl::StrCat("e", i), "e.fabrikam.test").certificate);
  }
  auto report = [&](const std::string& node, size_t from, size_t to) {
    std::vector<std::string> ders;
    for (size_t i = from; i < to; ++i) ders.push_back(certs[i].der());
    return index.AddReport(node, Views(ders));
  };
  // A node fills its share; the rest of its report is dropped.
  CertificateIndex::ReportResult r = report("spiffe://contoso.test/edge/a", 0, 4);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(r.dropped, 1u);
  // Another node still has room; in all only 4 fit, oldest out first.
  r = report("spiffe://contoso.test/edge/b", 3, 6);
  EXPECT_EQ(r.added, 3u);
  EXPECT_EQ(index.reported_size(), 4u);
  EXPECT_FALSE(index.Find(certs[0].Sha256Hex()).has_value());
  EXPECT_FALSE(index.Find(certs[1].Sha256Hex()).has_value());
  EXPECT_TRUE(index.Find(certs[2].Sha256Hex()).has_value());
  EXPECT_TRUE(index.Find(certs[5].Sha256Hex()).has_value());
  EXPECT_EQ(index.counters().reported_evicted, 2u);
  // Node a's evicted entries gave it room again.
  r = report("spiffe://contoso.test/edge/a", 0, 1);
  EXPECT_EQ(r.added, 1u);
}

TEST(CertificateIndexTest, KnownCertificatesAreNeverEvictedByReports) {
  CertificateIndex::Options options;
  options.max_reported = 1;
  CertificateIndex index(options);
  const pki::Certificate& root = Contoso().root().certificate;
  index.AddKnown({FactsOf(root, nullptr, CertificateSource::kRoot)});
  std::vector<std::string> ders;
  for (int i = 0; i < 3; ++i) {
    ders.push_back(
        Fabrikam().IssueNode("edge", absl::StrCat("e", i), "e.fabrikam.test").certificate.der());
  }
  index.AddReport("spiffe://contoso.test/edge/a", Views(ders));
  std::optional<CertificateFacts> facts = index.Find(root.Sha256Hex());
  ASSERT_TRUE(facts.has_value());
  EXPECT_EQ(facts->source, CertificateSource::kRoot);
  // A self-signed root is its own issuer.
  EXPECT_EQ(facts->issuer_spki_sha256_hex, root.SpkiSha256Hex());
  EXPECT_EQ(index.size(), 2u);
}

TEST(CertificateIndexTest, KnownCertificatesAreCapped) {
  CertificateIndex::Options options;
  options.max_known = 1;
  CertificateIndex index(options);
  index.AddKnown({FactsOf(Contoso().root().certificate, nullptr, CertificateSource::kRoot),
                  FactsOf(Fabrikam().root().certificate, nullptr, CertificateSource::kRoot)});
  EXPECT_EQ(index.size(), 1u);
  EXPECT_EQ(index.counters().known_dropped, 1u);
}

TEST(CertificateIndexTest, AVerifiedChainTakesTheAnchorFromTheIndexAndChainsIssuers) {
  CertificateIndex index;
  const pki::Certificate& root = Contoso().root().certificate;
  const pki::Certificate& intermediate = Contoso().intermediate().certificate;
  const pki::IssuedCertificate fe1 = Contoso().IssueNode("frontend", "fe1", "fe1.contoso.test");
  index.AddKnown({FactsOf(root, nullptr, CertificateSource::kRoot)});

  std::vector<CertificateFacts> chain = VerifiedChainFacts(
      {fe1.certificate.Sha256Hex(), intermediate.Sha256Hex(), root.Sha256Hex()},
      {fe1.certificate, intermediate}, &index, CertificateSource::kNodeIdentity);
  ASSERT_EQ(chain.size(), 3u);
  EXPECT_EQ(chain[0].tbs_sha256_hex, fe1.certificate.TbsSha256Hex());
  EXPECT_EQ(chain[0].issuer_spki_sha256_hex, intermediate.SpkiSha256Hex());
  EXPECT_EQ(chain[1].issuer_spki_sha256_hex, root.SpkiSha256Hex());
  EXPECT_EQ(chain[2].spki_sha256_hex, root.SpkiSha256Hex());
  EXPECT_EQ(chain[2].source, CertificateSource::kNodeIdentity);

  // Without the index the anchor is known by its DER hash only.
  chain = VerifiedChainFacts({fe1.certificate.Sha256Hex(), root.Sha256Hex()}, {fe1.certificate},
                             nullptr, CertificateSource::kNodeIdentity);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_TRUE(chain[1].der_only());
  EXPECT_EQ(chain[1].sha256_hex, root.Sha256Hex());
  EXPECT_EQ(chain[0].issuer_spki_sha256_hex, "");
}

TEST(CertificateIndexTest, RevocationsMatchByTheirKind) {
  const pki::IssuedCertificate fe1 = Contoso().IssueNode("frontend", "fe1", "fe1.contoso.test");
  const CertificateFacts facts =
      FactsOf(fe1.certificate, &Contoso().intermediate().certificate,
              CertificateSource::kNodeIdentity);
  v1::Revocation r;
  r.set_kind(v1::REVOCATION_DER_ONLY);
  r.set_sha256_hex(fe1.certificate.Sha256Hex());
  EXPECT_TRUE(RevocationMatches(r, facts));
  r.set_sha256_hex(std::string(64, 'a'));
  EXPECT_FALSE(RevocationMatches(r, facts));

  r.Clear();
  r.set_kind(v1::REVOCATION_CERTIFICATE);
  r.set_tbs_sha256_hex(fe1.certificate.TbsSha256Hex());
  EXPECT_TRUE(RevocationMatches(r, facts));
  r.set_tbs_sha256_hex(fe1.certificate.Sha256Hex());
  EXPECT_FALSE(RevocationMatches(r, facts));

  r.Clear();
  r.set_kind(v1::REVOCATION_KEY);
  r.set_spki_sha256_hex(fe1.certificate.SpkiSha256Hex());
  EXPECT_TRUE(RevocationMatches(r, facts));

  r.Clear();
  r.set_kind(v1::REVOCATION_ISSUER_SERIAL);
  r.set_issuer_spki_sha256_hex(Contoso().intermediate().certificate.SpkiSha256Hex());
  r.set_serial_hex(facts.serial_hex);
  EXPECT_TRUE(RevocationMatches(r, facts));
  r.set_issuer_spki_sha256_hex(Fabrikam().intermediate().certificate.SpkiSha256Hex());
  EXPECT_FALSE(RevocationMatches(r, facts));

  // A member known by its DER hash only matches DER-only revocations alone.
  CertificateFacts only_hash;
  only_hash.sha256_hex = fe1.certificate.Sha256Hex();
  r.Clear();
  r.set_kind(v1::REVOCATION_KEY);
  EXPECT_FALSE(RevocationMatches(r, only_hash));
}

TEST(CertificateIndexTest, TheListenerHearsNewCertificatesOnly) {
  CertificateIndex index;
  absl::Mutex mu;
  std::vector<std::string> heard;
  index.set_listener([&](const std::vector<std::string>& learned) {
    absl::MutexLock lock(&mu);
    heard.insert(heard.end(), learned.begin(), learned.end());
  });
  const pki::IssuedCertificate edge = Fabrikam().IssueNode("edge", "edge1", "edge1.fabrikam.test");
  const std::vector<std::string> ders = {edge.certificate.der()};
  index.AddReport("spiffe://contoso.test/edge/a", Views(ders));
  index.AddReport("spiffe://contoso.test/edge/b", Views(ders));
  index.AddKnown({FactsOf(edge.certificate, nullptr, CertificateSource::kNodeIdentity),
                  FactsOf(Contoso().root().certificate, nullptr, CertificateSource::kRoot)});
  absl::MutexLock lock(&mu);
  EXPECT_THAT(heard, ElementsAre(edge.certificate.Sha256Hex(),
                                 Contoso().root().certificate.Sha256Hex()));
  // The reported entry became known.
  EXPECT_EQ(index.reported_size(), 0u);
}

}  // namespace
}  // namespace trustfabric::control
