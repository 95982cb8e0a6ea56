// PeerCertificateReports: each certificate queued once, batches in order,
// and the bounds on the queue and on what is remembered.
#include "server/node/peer_certificate_reports.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_pki.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::node {
namespace {

std::vector<pki::Certificate> Leaves(int n) {
  static const testing::TestDomain* domain = new testing::TestDomain("fabrikam.test");
  std::vector<pki::Certificate> out;
  for (int i = 0; i < n; ++i) {
    out.push_back(domain->IssueNode("edge", absl::StrCat("e", i), "e.fabrikam.test").certificate);
  }
  return out;
}

TEST(PeerCertificateReportsTest, EachCertificateIsQueuedOnceAndTakenInOrder) {
  PeerCertificateReports reports;
  const std::vector<pki::Certificate> certs = Leaves(3);
  EXPECT_TRUE(reports.Add({certs[0], certs[1]}));
  // Not empty before: no wake-up needed.
  EXPECT_FALSE(reports.Add({certs[1], certs[2]}));
  EXPECT_EQ(reports.pending(), 3u);
  EXPECT_THAT(reports.Take(2), ElementsAre(certs[0].der(), certs[1].der()));
  EXPECT_THAT(reports.Take(10), ElementsAre(certs[2].der()));
  EXPECT_THAT(reports.Take(10), IsEmpty());
  // Sent ones are remembered.
  EXPECT_FALSE(reports.Add(certs));
  EXPECT_EQ(reports.pending(), 0u);
  EXPECT_EQ(reports.counters().queued, 3u);
}

TEST(PeerCertificateReportsTest, AFullQueueDropsAndCountsWithoutForgettingTheDropped) {
  PeerCertificateReports::Options options;
  options.max_pending = 2;
  PeerCertificateReports reports(options);
  const std::vector<pki::Certificate> certs = Leaves(3);
  reports.Add(certs);
  EXPECT_EQ(reports.pending(), 2u);
  EXPECT_EQ(reports.counters().dropped, 1u);
  reports.Take(2);
  // The dropped one is queued when seen again.
  EXPECT_TRUE(reports.Add({certs[2]}));
  EXPECT_THAT(reports.Take(2), ElementsAre(certs[2].der()));
}

TEST(PeerCertificateReportsTest, AFullMemoryIsClearedAndCounted) {
  PeerCertificateReports::Options options;
  options.max_remembered = 2;
  PeerCertificateReports reports(options);
  const std::vector<pki::Certificate> certs = Leaves(3);
  reports.Add({certs[0], certs[1]});
  reports.Take(2);
  reports.Add({certs[2]});
  EXPECT_EQ(reports.counters().forgotten, 1u);
  EXPECT_THAT(reports.Take(5), ElementsAre(certs[2].der()));
  // Forgotten: reported again (the control plane takes it as a duplicate).
  reports.Add({certs[0]});
  EXPECT_THAT(reports.Take(5), ElementsAre(certs[0].der()));
}

}  // namespace
}  // namespace trustfabric::node
