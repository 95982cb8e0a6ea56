// The audit log's tamper evidence (docs/design.md §6): a hash chain over
// the records and checkpoints signed by the control plane's identity key.
//
// Each record carries, in prev_sha256, the SHA-256 of the previous record's
// canonical bytes (AuditCanonicalBytes; 64 zeros for the first record), and
// records are numbered seq = 1, 2, 3, ... So editing a record breaks the
// link of the record after it, deleting one leaves a gap in seq, and
// reordering puts a seq out of place. Whoever can write the store could
// still rewrite the whole chain; checkpoints stop that: every N records and
// at shutdown the control plane signs (seq, hash of record seq) with the
// key of its identity certificate, which only the control plane holds.
//
//   TF_ASSIGN_OR_RETURN(v1::AuditCheckpoint cp,
//                       audit::SignCheckpoint("contoso.test", head, absl::Now(), key));
//   TF_ASSIGN_OR_RETURN(audit::AuditVerification v,
//                       audit::VerifyAuditChain(records, checkpoints, {.trust_domain = d}));
//   // v.unsigned_records: records after the last checkpoint.
//
// Free of gRPC and of the store: tfctl links it to verify an exported log.
#ifndef TRUSTFABRIC_COMMON_AUDIT_AUDIT_CHAIN_H_
#define TRUSTFABRIC_COMMON_AUDIT_AUDIT_CHAIN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/private_key.h"
#include "common/pki/verify.h"
#include "trustfabric/v1/control.pb.h"

namespace trustfabric::audit {

// prev_sha256 of the first record.
inline constexpr char kAuditGenesisSha256[] =
    "0000000000000000000000000000000000000000000000000000000000000000";

// The JWS "typ" of a checkpoint signature.
inline constexpr char kCheckpointType[] = "tf-audit-checkpoint";

// The bytes a record's hash covers: a fixed prefix, then seq, revision and
// time (unix nanoseconds) as 8-byte big-endian integers, then actor,
// operation, object, before, after, result, reason and prev_sha256, each as
// a 4-byte big-endian length and its bytes. Unambiguous (no two records
// share them) and independent of protobuf's serialization.
std::string AuditCanonicalBytes(const v1::AuditRecord& record);

// Lower-case hex SHA-256 of AuditCanonicalBytes(record).
std::string AuditRecordSha256(const v1::AuditRecord& record);

// The end of a chain: the last record's seq and hash (0 and
// kAuditGenesisSha256 when there is none).
struct AuditHead {
  uint64_t seq = 0;
  std::string sha256 = kAuditGenesisSha256;
};

// Checks that `records` continue the chain after `before`: seq runs
// before.seq + 1, + 2, ... and each prev_sha256 is the hash of the record
// before it. Appends each record's hash to *hashes (when not null).
// DATA_LOSS naming the first record that does not fit (see
// VerifyAuditChain).
absl::Status CheckChainLinks(const std::vector<v1::AuditRecord>& records, const AuditHead& before,
                             std::vector<std::string>* hashes);

// The key checkpoints are signed with, and its certificate chain (leaf
// first), which travels in every checkpoint.
struct CheckpointKey {
  pki::PrivateKey key;
  std::vector<pki::Certificate> chain;
};

// A checkpoint of `head` signed at `time` with `key` (a compact JWS whose
// payload names trust_domain, seq, head_sha256 and time).
// INVALID_ARGUMENT when the key is of a type JWS cannot sign with (see
// token::AlgorithmForKey) or does not match the leaf, or head.seq is 0.
absl::StatusOr<v1::AuditCheckpoint> SignCheckpoint(const std::string& trust_domain,
                                                   const AuditHead& head, absl::Time time,
                                                   const CheckpointKey& key);

struct AuditVerifyOptions {
  // The domain the log belongs to: checkpoints must name it, and be signed
  // by a certificate of spiffe://<trust_domain>/control/<name>.
  std::string trust_domain;
  // When set, every signer's chain must also verify to these roots at the
  // checkpoint's time.
  std::shared_ptr<const pki::RootStore> roots;
};

struct AuditVerification {
  uint64_t records = 0;
  uint64_t checkpoints = 0;
  // The highest seq a valid checkpoint covers (0: none).
  uint64_t signed_through = 0;
  // Records after it: chained but not (yet) covered by a signature.
  uint64_t unsigned_records = 0;
};

// Checks the whole chain, in the order given: seq runs 1..n without gaps,
// each record's prev_sha256 is the hash of the one before, every checkpoint
// names a record that exists and its hash, and its signature verifies with
// its signer certificate (role control of options.trust_domain; chained to
// options.roots when set). DATA_LOSS naming the first bad record or
// checkpoint, e.g.
//   "audit record seq 7: prev_sha256 is not the hash of record seq 6: one of
//    them was edited, or records were deleted or reordered there",
//   "audit record at position 4 has seq 6, expected 5: records are missing
//    or out of order",
//   "checkpoint at seq 40: signature invalid ...".
absl::StatusOr<AuditVerification> VerifyAuditChain(
    const std::vector<v1::AuditRecord>& records,
    const std::vector<v1::AuditCheckpoint>& checkpoints, const AuditVerifyOptions& options);

}  // namespace trustfabric::audit

#endif  // TRUSTFABRIC_COMMON_AUDIT_AUDIT_CHAIN_H_
