// Audit hash chain and signed checkpoints; see audit_chain.h.
#include "common/audit/audit_chain.h"

#include <openssl/x509.h>

#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/token/json.h"
#include "common/token/jws.h"
#include "common/trust/validation.h"

namespace trustfabric::audit {
namespace {

constexpr char kCanonicalPrefix[] = "trustfabric.audit.v1\n";

void AppendInteger(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((value >> shift) & 0xff));
  }
}

void AppendString(const std::string& value, std::string* out) {
  const uint64_t size = value.size();
  for (int shift = 24; shift >= 0; shift -= 8) {
    out->push_back(static_cast<char>((size >> shift) & 0xff));
  }
  out->append(value);
}

int64_t UnixNanos(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000000000 + t.nanos();
}

absl::Status Bad(absl::string_view message) { return absl::DataLossError(message); }

// The signer's chain, role and key, and the JWS over the checkpoint.
absl::Status VerifyCheckpoint(const v1::AuditCheckpoint& checkpoint,
                              const AuditVerifyOptions& options) {
  const std::string where = absl::StrCat("checkpoint at seq ", checkpoint.seq(), ": ");
  absl::StatusOr<std::vector<pki::Certificate>> chain =
      pki::ParsePemBundle(checkpoint.signer_certificate_pem());
  if (!chain.ok()) {
    return Bad(absl::StrCat(where, "signer certificate: ", chain.status().message()));
  }
  const pki::Certificate& leaf = chain->front();
  bool control_of_domain = false;
  for (const std::string& uri : leaf.UriNames()) {
    absl::StatusOr<pki::SpiffeId> id = pki::ParseSpiffeId(uri);
    control_of_domain = control_of_domain || (id.ok() && id->role == pki::Role::kControl &&
                                              id->trust_domain == options.trust_domain);
  }
  if (!control_of_domain) {
    return Bad(absl::StrCat(where, "signer ", trust::QuoteForMessage(leaf.Subject()),
                            " is not a control plane of ", options.trust_domain));
  }
  const absl::Time time = FromProtoTime(checkpoint.time());
  if (options.roots != nullptr) {
    pki::VerifyRequest request{leaf, {chain->begin() + 1, chain->end()}, time};
    absl::StatusOr<pki::VerifiedChain> verified = options.roots->Verify(request);
    if (!verified.ok()) {
      return Bad(absl::StrCat(where, "signer certificate: ", verified.status().message()));
    }
  }
  absl::StatusOr<token::CompactJws> jws = token::ParseCompactJws(checkpoint.signature());
  if (!jws.ok()) return Bad(absl::StrCat(where, "signature: ", jws.status().message()));
  const token::Json* typ = jws->header.Find("typ");
  const token::Json* alg_name = jws->header.Find("alg");
  EVP_PKEY* public_key = X509_get0_pubkey(leaf.get());
  const std::optional<token::JwsAlgorithm> alg = token::AlgorithmForKey(public_key);
  if (typ == nullptr || typ->string_value() != kCheckpointType || !alg.has_value() ||
      alg_name == nullptr || alg_name->string_value() != token::JwsAlgorithmName(*alg)) {
    return Bad(absl::StrCat(where, "signature: not a checkpoint signature of the signer's key"));
  }
  if (absl::Status s =
          token::VerifyJwsSignature(*alg, public_key, jws->signing_input, jws->signature);
      !s.ok()) {
    return Bad(absl::StrCat(where, s.message()));
  }
  const token::Json* domain = jws->payload.Find("trust_domain");
  const token::Json* seq = jws->payload.Find("seq");
  const token::Json* head = jws->payload.Find("head_sha256");
  const token::Json* nanos = jws->payload.Find("time_ns");
  if (domain == nullptr || domain->string_value() != options.trust_domain || seq == nullptr ||
      seq->integer_value() != static_cast<int64_t>(checkpoint.seq()) || head == nullptr ||
      head->string_value() != checkpoint.head_sha256() || nanos == nullptr ||
      nanos->integer_value() != UnixNanos(checkpoint.time())) {
    return Bad(absl::StrCat(where, "the signed statement does not match the checkpoint"));
  }
  return absl::OkStatus();
}

}  // namespace

std::string AuditCanonicalBytes(const v1::AuditRecord& record) {
  std::string out = kCanonicalPrefix;
  AppendInteger(record.seq(), &out);
  AppendInteger(record.revision(), &out);
  AppendInteger(static_cast<uint64_t>(UnixNanos(record.time())), &out);
  for (const std::string* field :
       {&record.actor(), &record.operation(), &record.object(), &record.before(), &record.after(),
        &record.result(), &record.reason(), &record.prev_sha256()}) {
    AppendString(*field, &out);
  }
  return out;
}

std::string AuditRecordSha256(const v1::AuditRecord& record) {
  return pki::HexEncode(pki::Sha256(AuditCanonicalBytes(record)));
}

absl::StatusOr<v1::AuditCheckpoint> SignCheckpoint(const std::string& trust_domain,
                                                   const AuditHead& head, absl::Time time,
                                                   const CheckpointKey& key) {
  if (head.seq == 0) return absl::InvalidArgumentError("checkpoint: the audit log is empty");
  if (key.chain.empty() || !key.key.Matches(key.chain.front())) {
    return absl::InvalidArgumentError("checkpoint: the key does not match its certificate");
  }
  std::optional<token::JwsAlgorithm> alg = token::AlgorithmForKey(key.key.get());
  if (!alg.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkpoint: cannot sign with a ", pki::KeyAlgorithmName(key.key.algorithm()),
                     " key (RSA, P-256 or Ed25519)"));
  }
  v1::AuditCheckpoint checkpoint;
  checkpoint.set_seq(head.seq);
  checkpoint.set_head_sha256(head.sha256);
  *checkpoint.mutable_time() = ToProtoTime(time);
  checkpoint.set_signer_certificate_pem(pki::ToPemBundle(key.chain));
  token::Json header = token::Json::MakeObject(
      {{"alg", token::Json::String(std::string(token::JwsAlgorithmName(*alg)))},
       {"typ", token::Json::String(kCheckpointType)}});
  token::Json payload = token::Json::MakeObject(
      {{"trust_domain", token::Json::String(trust_domain)},
       {"seq", token::Json::Integer(static_cast<int64_t>(head.seq))},
       {"head_sha256", token::Json::String(head.sha256)},
       {"time_ns", token::Json::Integer(UnixNanos(checkpoint.time()))}});
  TF_ASSIGN_OR_RETURN(std::string signature,
                      token::SignCompactJws(header, payload, key.key.get()));
  checkpoint.set_signature(std::move(signature));
  return checkpoint;
}

absl::Status CheckChainLinks(const std::vector<v1::AuditRecord>& records, const AuditHead& before,
                             std::vector<std::string>* hashes) {
  std::string previous = before.sha256;
  for (size_t i = 0; i < records.size(); ++i) {
    const v1::AuditRecord& record = records[i];
    const uint64_t expected = before.seq + i + 1;
    if (record.seq() != expected) {
      return Bad(absl::StrCat("audit record at position ", expected, " has seq ", record.seq(),
                              ", expected ", expected,
                              ": records are missing or out of order there"));
    }
    if (record.prev_sha256() != previous) {
      if (expected == 1) {
        return Bad("audit record seq 1: prev_sha256 is not the genesis hash: records before it "
                   "were deleted, or it was edited");
      }
      return Bad(absl::StrCat("audit record seq ", expected,
                              ": prev_sha256 is not the hash of record seq ", expected - 1,
                              ": one of them was edited, or records were deleted or reordered "
                              "there"));
    }
    previous = AuditRecordSha256(record);
    if (hashes != nullptr) hashes->push_back(previous);
  }
  return absl::OkStatus();
}

absl::StatusOr<AuditVerification> VerifyAuditChain(
    const std::vector<v1::AuditRecord>& records,
    const std::vector<v1::AuditCheckpoint>& checkpoints, const AuditVerifyOptions& options) {
  // hashes[i] is the hash of the record with seq i + 1.
  std::vector<std::string> hashes;
  hashes.reserve(records.size());
  TF_RETURN_IF_ERROR(CheckChainLinks(records, AuditHead{}, &hashes));
  AuditVerification out;
  out.records = records.size();
  for (const v1::AuditCheckpoint& checkpoint : checkpoints) {
    if (checkpoint.seq() == 0 || checkpoint.seq() > records.size()) {
      return Bad(absl::StrCat("checkpoint at seq ", checkpoint.seq(), " names a record the log ",
                              "does not have (it ends at seq ", records.size(),
                              "): records were deleted from the end"));
    }
    if (hashes[checkpoint.seq() - 1] != checkpoint.head_sha256()) {
      return Bad(absl::StrCat("audit record seq ", checkpoint.seq(),
                              ": its hash is not the one the checkpoint at seq ", checkpoint.seq(),
                              " signed: it or a record before it was edited"));
    }
    TF_RETURN_IF_ERROR(VerifyCheckpoint(checkpoint, options));
    ++out.checkpoints;
    if (checkpoint.seq() > out.signed_through) out.signed_through = checkpoint.seq();
  }
  out.unsigned_records = out.records - out.signed_through;
  return out;
}

}  // namespace trustfabric::audit
