// The audit log's hash chain and signed checkpoints: an intact log
// verifies; an edited, deleted or reordered record, a checkpoint over other
// bytes, a forged or foreign signature each fail, naming where.
#include "common/audit/audit_chain.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/time/proto_time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_pki.h"

namespace trustfabric::audit {
namespace {

using ::testing::HasSubstr;
using trustfabric::testing::IsOk;
using trustfabric::testing::StatusIs;

constexpr char kDomain[] = "contoso.test";
// Within the test certificates' validity: signers are checked at the
// checkpoint's time.
const absl::Time kTime = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()));

const testing::TestDomain& Contoso() { return testing::SharedTestDomain(kDomain); }

CheckpointKey KeyOf(const pki::IssuedCertificate& leaf) {
  return CheckpointKey{leaf.key, {leaf.certificate, Contoso().intermediate().certificate}};
}

CheckpointKey ControlKey() {
  static const pki::IssuedCertificate* leaf =
      new pki::IssuedCertificate(Contoso().IssueNode("control", "cp1", "cp1.contoso.test"));
  return KeyOf(*leaf);
}

// n records chained as the store chains them.
std::vector<v1::AuditRecord> Chain(int n) {
  std::vector<v1::AuditRecord> records;
  AuditHead head;
  for (int i = 1; i <= n; ++i) {
    v1::AuditRecord& r = records.emplace_back();
    r.set_seq(static_cast<uint64_t>(i));
    r.set_revision(static_cast<uint64_t>(i));
    *r.mutable_time() = ToProtoTime(kTime + absl::Seconds(i));
    r.set_actor("spiffe://contoso.test/admin/alice");
    r.set_operation(i % 3 == 0 ? "root.remove" : "revocation.add");
    r.set_object(absl::StrCat("object-", i));
    r.set_after(absl::StrCat("kind=certificate reason=\"r", i, "\""));
    r.set_result(i % 3 == 0 ? "failed_precondition" : "ok");
    if (i % 3 == 0) r.set_reason("root authority object is still needed");
    r.set_prev_sha256(head.sha256);
    head = {r.seq(), AuditRecordSha256(r)};
  }
  return records;
}

v1::AuditCheckpoint Checkpoint(const std::vector<v1::AuditRecord>& records, size_t seq,
                               const CheckpointKey& key = ControlKey()) {
  absl::StatusOr<v1::AuditCheckpoint> cp = SignCheckpoint(
      kDomain, {seq, AuditRecordSha256(records[seq - 1])}, kTime + absl::Minutes(1), key);
  EXPECT_THAT(cp, IsOk());
  return *cp;
}

AuditVerifyOptions Options() {
  absl::StatusOr<std::shared_ptr<const pki::RootStore>> roots =
      pki::RootStore::Create({Contoso().root().certificate});
  EXPECT_THAT(roots, IsOk());
  return {kDomain, *roots};
}

TEST(AuditChainTest, AnIntactLogVerifiesAndCountsWhatIsSigned) {
  const std::vector<v1::AuditRecord> records = Chain(10);
  absl::StatusOr<AuditVerification> v =
      VerifyAuditChain(records, {Checkpoint(records, 4), Checkpoint(records, 8)}, Options());
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->records, 10u);
  EXPECT_EQ(v->checkpoints, 2u);
  EXPECT_EQ(v->signed_through, 8u);
  EXPECT_EQ(v->unsigned_records, 2u);
}

TEST(AuditChainTest, CanonicalBytesCoverEveryField) {
  const v1::AuditRecord base = Chain(1).front();
  const std::string hash = AuditRecordSha256(base);
  std::vector<v1::AuditRecord> changed(11, base);
  changed[0].set_seq(2);
  changed[1].set_revision(9);
  changed[2].mutable_time()->set_nanos(1);
  changed[3].set_actor("spiffe://contoso.test/admin/mallory");
  changed[4].set_operation("root.add");
  changed[5].set_object("other");
  changed[6].set_before("x");
  changed[7].set_after("");
  changed[8].set_result("aborted");
  changed[9].set_reason("why");
  changed[10].set_prev_sha256(std::string(64, '1'));
  for (size_t i = 0; i < changed.size(); ++i) {
    EXPECT_NE(AuditRecordSha256(changed[i]), hash) << "field " << i;
  }
  // Field boundaries count: moving bytes from one field to the next changes the hash.
  v1::AuditRecord a = base, b = base;
  a.set_actor("ab");
  a.set_operation("c");
  b.set_actor("a");
  b.set_operation("bc");
  EXPECT_NE(AuditRecordSha256(a), AuditRecordSha256(b));
}

TEST(AuditChainTest, AnEditedRecordFailsNamingWhereTheChainBreaks) {
  std::vector<v1::AuditRecord> records = Chain(10);
  const std::vector<v1::AuditCheckpoint> checkpoints = {Checkpoint(records, 10)};
  records[4].set_actor("spiffe://contoso.test/admin/mallory");  // seq 5
  EXPECT_THAT(VerifyAuditChain(records, checkpoints, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit record seq 6: prev_sha256 is not the hash of record seq 5"));
}

TEST(AuditChainTest, AnEditedLastRecordFailsAgainstItsCheckpoint) {
  std::vector<v1::AuditRecord> records = Chain(6);
  const std::vector<v1::AuditCheckpoint> checkpoints = {Checkpoint(records, 6)};
  records[5].set_reason("nothing to see");
  EXPECT_THAT(VerifyAuditChain(records, checkpoints, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit record seq 6: its hash is not the one the checkpoint at seq 6 "
                       "signed"));
}

TEST(AuditChainTest, ARehashedChainStillFailsAgainstTheSignedCheckpoint) {
  // Whoever edits the store can recompute every later link, but not the
  // signature over the old head.
  std::vector<v1::AuditRecord> records = Chain(6);
  const std::vector<v1::AuditCheckpoint> checkpoints = {Checkpoint(records, 6)};
  records[2].set_result("ok");
  for (size_t i = 3; i < records.size(); ++i) {
    records[i].set_prev_sha256(AuditRecordSha256(records[i - 1]));
  }
  EXPECT_THAT(VerifyAuditChain(records, checkpoints, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "its hash is not the one the checkpoint"));
}

TEST(AuditChainTest, ADeletedRecordFails) {
  std::vector<v1::AuditRecord> records = Chain(8);
  records.erase(records.begin() + 3);  // seq 4
  EXPECT_THAT(VerifyAuditChain(records, {}, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit record at position 4 has seq 5, expected 4: records are missing"));

  // Renumbered after the deletion: the link breaks instead.
  for (size_t i = 3; i < records.size(); ++i) records[i].set_seq(i + 1);
  EXPECT_THAT(VerifyAuditChain(records, {}, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit record seq 4: prev_sha256 is not the hash of record seq 3"));

  // Deleted from the front, or from the end under a checkpoint.
  const std::vector<v1::AuditRecord> five = Chain(5);
  std::vector<v1::AuditRecord> tail(five.begin() + 1, five.end());
  EXPECT_THAT(VerifyAuditChain(tail, {}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "has seq 2, expected 1"));
  std::vector<v1::AuditRecord> full = Chain(5);
  const v1::AuditCheckpoint last = Checkpoint(full, 5);
  full.pop_back();
  EXPECT_THAT(VerifyAuditChain(full, {last}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "checkpoint at seq 5 names a record the log "
                                                    "does not have (it ends at seq 4)"));
}

TEST(AuditChainTest, ReorderedRecordsFail) {
  std::vector<v1::AuditRecord> records = Chain(6);
  std::swap(records[2], records[3]);
  EXPECT_THAT(VerifyAuditChain(records, {}, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "audit record at position 3 has seq 4, expected 3"));
  // With their seq swapped back into place, the links give it away.
  std::swap(records[2], records[3]);
  std::swap(records[2], records[3]);
  records[2].set_seq(3);
  records[3].set_seq(4);
  EXPECT_THAT(VerifyAuditChain(records, {}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "audit record seq 3: prev_sha256"));
}

TEST(AuditChainTest, BadCheckpointSignaturesFail) {
  const std::vector<v1::AuditRecord> records = Chain(5);

  v1::AuditCheckpoint forged = Checkpoint(records, 5);
  std::string& signature = *forged.mutable_signature();
  signature[signature.size() - 5] = signature[signature.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_THAT(VerifyAuditChain(records, {forged}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "checkpoint at seq 5: signature"));

  // A signature of another statement (seq 3) presented for seq 5.
  v1::AuditCheckpoint moved = Checkpoint(records, 5);
  moved.set_signature(Checkpoint(records, 3).signature());
  EXPECT_THAT(VerifyAuditChain(records, {moved}, Options()),
              StatusIs(absl::StatusCode::kDataLoss,
                       "checkpoint at seq 5: the signed statement does not match"));

  // Signed by a node, not by a control plane.
  const pki::IssuedCertificate fe = Contoso().IssueNode("frontend", "fe1", "fe1.contoso.test");
  EXPECT_THAT(VerifyAuditChain(records, {Checkpoint(records, 5, KeyOf(fe))}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "is not a control plane of contoso.test"));

  // Signed by a control plane of an impostor PKI of the same domain: the
  // signature is valid, the signer does not chain to the domain's root.
  const testing::TestDomain impostor(kDomain);
  const pki::IssuedCertificate other = impostor.IssueNode("control", "cp1", "cp1.contoso.test");
  const v1::AuditCheckpoint foreign = Checkpoint(
      records, 5, CheckpointKey{other.key, {other.certificate, impostor.intermediate().certificate}});
  EXPECT_THAT(VerifyAuditChain(records, {foreign}, Options()),
              StatusIs(absl::StatusCode::kDataLoss, "checkpoint at seq 5: signer certificate"));
  EXPECT_THAT(VerifyAuditChain(records, {foreign}, {kDomain, nullptr}), IsOk());
}

TEST(AuditChainTest, SigningRefusesAKeyThatIsNotTheCertificates) {
  const pki::IssuedCertificate fe = Contoso().IssueNode("control", "cp2", "cp2.contoso.test");
  CheckpointKey mismatched = ControlKey();
  mismatched.key = fe.key;
  EXPECT_THAT(SignCheckpoint(kDomain, {1, std::string(64, 'a')}, kTime, mismatched),
              StatusIs(absl::StatusCode::kInvalidArgument, "does not match its certificate"));
  EXPECT_THAT(SignCheckpoint(kDomain, AuditHead{}, kTime, ControlKey()),
              StatusIs(absl::StatusCode::kInvalidArgument, "empty"));
}

}  // namespace
}  // namespace trustfabric::audit
