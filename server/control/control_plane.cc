// The control plane's domain logic; see control_plane.h.
#include "server/control/control_plane.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/time/proto_time.h"
#include "common/trust/admission.h"
#include "common/trust/delta.h"
#include "common/trust/revocation.h"
#include "common/trust/validation.h"
#include "server/control/audit.h"
#include "common/audit/audit_chain.h"
#include "spdlog/spdlog.h"

namespace trustfabric::control {
namespace {

// Nodes named in a safe-rotation refusal; the rest are counted.
constexpr size_t kListedNodes = 20;
constexpr uint32_t kDefaultAuditLimit = 100;
constexpr uint32_t kMaxAuditLimit = 10000;

bool HasPurpose(const v1::RootAuthority& root, v1::Purpose purpose) {
  return std::find(root.purposes().begin(), root.purposes().end(), purpose) !=
         root.purposes().end();
}

std::string NodeList(const std::vector<std::string>& ids) {
  if (ids.size() <= kListedNodes) return absl::StrJoin(ids, ", ");
  std::vector<std::string> head(ids.begin(), ids.begin() + kListedNodes);
  return absl::StrCat(absl::StrJoin(head, ", "), " and ", ids.size() - kListedNodes, " more");
}

absl::Status CheckObjectName(const std::string& name, absl::string_view field) {
  if (trust::IsValidObjectName(name)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", trust::QuoteForMessage(name),
                   " is not a valid name (1..128 characters of [a-z0-9._-])"));
}

// Fingerprints are accepted as sha256sum prints them and as openssl does
// (upper case, ':' separated); stored in the canonical lower-case form.
absl::StatusOr<std::string> NormalizeSha256(const std::string& text, absl::string_view field) {
  std::string hex = absl::AsciiStrToLower(absl::StrReplaceAll(text, {{":", ""}}));
  if (trust::IsSha256Hex(hex)) return hex;
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", trust::QuoteForMessage(text),
                                                 " is not a sha-256 (64 hex characters)"));
}

std::string Seconds(absl::Duration d) { return absl::FormatDuration(d); }

// Hex in openssl's fingerprint form: pairs separated by ':'.
bool IsColonHex(absl::string_view text) {
  for (char c : text) {
    if (c != ':' && !absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// A revocation key as listed ("certificate:<hex>", "key:<hex>",
// "serial:<issuer hex>:<serial>") in canonical form.
absl::StatusOr<std::string> CanonicalRevocationKey(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  absl::string_view rest = lower;
  auto invalid = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "sha256_hex: ", trust::QuoteForMessage(text),
        " is not a revocation key (certificate:<hex>, key:<hex>, serial:<hex>:<serial>)"));
  };
  if (absl::ConsumePrefix(&rest, "certificate:") || absl::ConsumePrefix(&rest, "key:")) {
    if (!trust::IsSha256Hex(rest)) return invalid();
    return lower;
  }
  if (absl::ConsumePrefix(&rest, "serial:")) {
    if (rest.size() < 66 || rest[64] != ':' || !trust::IsSha256Hex(rest.substr(0, 64))) {
      return invalid();
    }
    absl::StatusOr<std::string> serial = pki::CanonicalSerialHex(rest.substr(65));
    if (!serial.ok()) return invalid();
    return absl::StrCat("serial:", rest.substr(0, 64), ":", *serial);
  }
  return invalid();
}

// The objects of a plan's changes, for log lines.
std::string PlanObjects(const std::vector<v1::TrustChange>& changes) {
  std::vector<std::string> keys;
  for (const v1::TrustChange& change : changes) keys.push_back(ObjectKey(change));
  return absl::StrJoin(keys, ",");
}

}  // namespace

ControlPlane::ControlPlane(Options options, std::unique_ptr<Store> store,
                           trust::SnapshotHolder* holder, NodeRegistry* nodes)
    : options_(std::move(options)),
      holder_(holder),
      nodes_(nodes),
      updates_(UpdateLog::Options{options_.history_revisions, options_.chunk_bytes}),
      store_(std::move(store)) {
  certificates_.set_listener(
      [this](const std::vector<std::string>& learned) { OnCertificatesLearned(learned); });
  upgrader_ = std::thread([this] { RunUpgrades(); });
}

ControlPlane::~ControlPlane() {
  {
    absl::MutexLock lock(&upgrade_mu_);
    stop_upgrades_ = true;
  }
  upgrader_.join();
}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(Options options,
                                                                   std::unique_ptr<Store> store,
                                                                   trust::SnapshotHolder* holder,
                                                                   NodeRegistry* nodes) {
  std::unique_ptr<ControlPlane> cp(
      new ControlPlane(std::move(options), std::move(store), holder, nodes));
  TF_RETURN_IF_ERROR(cp->Load());
  // Records a previous run wrote after its last checkpoint (it may have
  // died before its shutdown checkpoint) are signed now.
  cp->Checkpoint();
  return cp;
}

absl::Status ControlPlane::Load() {
  absl::MutexLock lock(&mu_);
  const absl::Time start = absl::Now();
  TF_ASSIGN_OR_RETURN(StoredState state, store_->Load());
  const absl::Duration read = absl::Now() - start;
  if (state.snapshot.revision() == 0) {
    if (options_.seed_root_name.empty() || options_.seed_root_pem.empty()) {
      return absl::FailedPreconditionError(
          "the store is empty and no seed root is configured (seed_root_name, seed_root_file)");
    }
    v1::TrustSnapshot empty;
    empty.set_trust_domain(options_.trust_domain);
    empty.set_realm(options_.realm);
    *empty.mutable_generation() = state.snapshot.generation();
    absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> base =
        trust::TrustSnapshot::Create(std::move(empty));
    if (!base.ok()) return Annotate(base.status(), "configuration");
    current_ = *std::move(base);

    Plan seed;
    seed.operation = "root.add";
    v1::RootAuthority* root = seed.changes.emplace_back().mutable_put_root();
    root->set_name(options_.seed_root_name);
    root->set_trust_domain(options_.trust_domain);
    root->set_certificates_pem(options_.seed_root_pem);
    root->add_purposes(v1::MTLS);
    root->add_purposes(v1::TOKEN_SIGNING);
    absl::StatusOr<uint64_t> revision = CommitLocked(kBootstrapActor, seed);
    if (!revision.ok()) return Annotate(revision.status(), "seed root");
    spdlog::info("control plane seeded {} with root authority {} at revision {} (generation "
                 "epoch {} id {})",
                 options_.trust_domain, options_.seed_root_name, *revision,
                 current_->proto().generation().epoch(), current_->proto().generation().id());
    return absl::OkStatus();
  }

  if (state.snapshot.trust_domain() != options_.trust_domain ||
      state.snapshot.realm() != options_.realm) {
    return absl::FailedPreconditionError(
        absl::StrCat("the store holds trust domain ", state.snapshot.trust_domain(), " (realm ",
                     state.snapshot.realm(), "), but the configuration names ",
                     options_.trust_domain, " (realm ", options_.realm, ")"));
  }
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> snapshot =
      trust::TrustSnapshot::Create(std::move(state.snapshot));
  if (!snapshot.ok()) return Annotate(snapshot.status(), "stored state");
  absl::Status swapped = holder_->Swap(*snapshot);
  if (!swapped.ok()) return Annotate(swapped, "stored state");
  current_ = *snapshot;
  updates_.Reset(current_, std::move(state.history));
  LearnSnapshot(*current_, nullptr);
  spdlog::info(
      "control plane loaded {} at revision {} of generation epoch {} id {} ({} roots, {} "
      "issuers, {} peers, {} revocations, {} deltas of history) in {} (store read {})",
      options_.trust_domain, current_->revision(), current_->proto().generation().epoch(),
      current_->proto().generation().id(), current_->proto().roots_size(),
      current_->proto().issuers_size(), current_->proto().peers_size(),
      current_->proto().revocations_size(), updates_.retained(),
      absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1))),
      absl::FormatDuration(absl::Trunc(read, absl::Milliseconds(1))));
  return absl::OkStatus();
}

std::shared_ptr<const trust::TrustSnapshot> ControlPlane::current() const { return holder_->Get(); }

uint64_t ControlPlane::revision() const {
  std::shared_ptr<const trust::TrustSnapshot> s = holder_->Get();
  return s == nullptr ? 0 : s->revision();
}

// --- mutations -------------------------------------------------------------

absl::StatusOr<v1::MutationResponse> ControlPlane::AddRootAuthority(
    const Caller& caller, const v1::AddRootAuthorityRequest& request) {
  Plan plan;
  plan.operation = "root.add";
  plan.options = &request.options();
  if (!request.has_root()) {
    return Refuse(caller, plan, absl::InvalidArgumentError("root: must be set"));
  }
  *plan.changes.emplace_back().mutable_put_root() = request.root();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveRootAuthority(
    const Caller& caller, const v1::RemoveRootAuthorityRequest& request) {
  Plan plan;
  plan.operation = "root.remove";
  plan.options = &request.options();
  plan.force = request.force();
  if (absl::Status s = CheckObjectName(request.name(), "name"); !s.ok()) {
    return Refuse(caller, plan, s);
  }
  plan.changes.emplace_back().set_remove_root(request.name());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::AddTokenIssuer(
    const Caller& caller, const v1::AddTokenIssuerRequest& request) {
  Plan plan;
  plan.operation = "issuer.add";
  plan.options = &request.options();
  if (!request.has_issuer()) {
    return Refuse(caller, plan, absl::InvalidArgumentError("issuer: must be set"));
  }
  *plan.changes.emplace_back().mutable_put_issuer() = request.issuer();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveTokenIssuer(
    const Caller& caller, const v1::RemoveTokenIssuerRequest& request) {
  Plan plan;
  plan.operation = "issuer.remove";
  plan.options = &request.options();
  if (absl::Status s = CheckObjectName(request.name(), "name"); !s.ok()) {
    return Refuse(caller, plan, s);
  }
  plan.changes.emplace_back().set_remove_issuer(request.name());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::PutFederationPeer(
    const Caller& caller, const v1::PutFederationPeerRequest& request) {
  Plan plan;
  plan.operation = "peer.put";
  plan.options = &request.options();
  if (!request.has_peer()) {
    return Refuse(caller, plan, absl::InvalidArgumentError("peer: must be set"));
  }
  *plan.changes.emplace_back().mutable_put_peer() = request.peer();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveFederationPeer(
    const Caller& caller, const v1::RemoveFederationPeerRequest& request) {
  Plan plan;
  plan.operation = "peer.remove";
  plan.options = &request.options();
  if (!pki::IsValidDnsName(request.trust_domain())) {
    return Refuse(caller, plan,
                  absl::InvalidArgumentError(
                      absl::StrCat("trust_domain: ", trust::QuoteForMessage(request.trust_domain()),
                                   " is not a valid trust domain")));
  }
  plan.changes.emplace_back().set_remove_peer(request.trust_domain());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::Revocation> ControlPlane::RevocationFor(
    const v1::RevokeCertificateRequest& request, std::vector<std::string>* warnings) const {
  using Request = v1::RevokeCertificateRequest;
  const Request::TargetCase target = request.target_case();
  if (request.revoke_key() && target != Request::kCertificatePem &&
      target != Request::kSha256Hex) {
    return absl::InvalidArgumentError(
        "revoke_key: only with a certificate target (certificate_pem or sha256_hex)");
  }
  if (request.der_only() && target != Request::kSha256Hex) {
    return absl::InvalidArgumentError("der_only: only with sha256_hex");
  }
  v1::Revocation revocation;
  // A certificate's signed body, or its key with revoke_key.
  auto revoke = [&](const CertificateFacts& facts) {
    if (request.revoke_key()) {
      revocation.set_kind(v1::REVOCATION_KEY);
      revocation.set_spki_sha256_hex(facts.spki_sha256_hex);
    } else {
      revocation.set_kind(v1::REVOCATION_CERTIFICATE);
      revocation.set_tbs_sha256_hex(facts.tbs_sha256_hex);
    }
    revocation.set_sha256_hex(facts.sha256_hex);
    revocation.set_subject(facts.subject);
  };
  switch (target) {
    case Request::kCertificatePem: {
      // The first certificate of a chain file.
      absl::StatusOr<std::vector<pki::Certificate>> certs =
          pki::ParsePemBundle(request.certificate_pem());
      if (!certs.ok()) return Annotate(certs.status(), "certificate_pem");
      revoke(FactsOf(certs->front(), nullptr, CertificateSource::kNodeIdentity));
      return revocation;
    }
    case Request::kSha256Hex: {
      TF_ASSIGN_OR_RETURN(std::string sha, NormalizeSha256(request.sha256_hex(), "sha256_hex"));
      std::optional<CertificateFacts> facts = certificates_.Find(sha);
      if (facts.has_value() && !facts->der_only()) {
        revoke(*facts);
        return revocation;
      }
      if (!request.der_only()) {
        return absl::FailedPreconditionError(absl::StrCat(
            "sha256_hex: certificate ", sha,
            " is not known to the control plane: no node reported it and it is no node identity, "
            "root or token issuer certificate, so a revocation could match only this one DER "
            "encoding (a re-encoded copy of the certificate would pass); revoke the certificate "
            "file (--certificate) or pass der_only (--der-only)"));
      }
      revocation.set_kind(v1::REVOCATION_DER_ONLY);
      revocation.set_sha256_hex(sha);
      warnings->push_back(absl::StrCat(
          "revocation ", sha,
          " is der-only: a re-encoded copy of the certificate is not refused; it is upgraded "
          "to a revocation of the certificate when a node reports the certificate"));
      return revocation;
    }
    case Request::kTbsSha256Hex: {
      TF_ASSIGN_OR_RETURN(std::string sha,
                          NormalizeSha256(request.tbs_sha256_hex(), "tbs_sha256_hex"));
      revocation.set_kind(v1::REVOCATION_CERTIFICATE);
      revocation.set_tbs_sha256_hex(std::move(sha));
      return revocation;
    }
    case Request::kKeySha256Hex: {
      TF_ASSIGN_OR_RETURN(std::string sha,
                          NormalizeSha256(request.key_sha256_hex(), "key_sha256_hex"));
      revocation.set_kind(v1::REVOCATION_KEY);
      revocation.set_spki_sha256_hex(std::move(sha));
      return revocation;
    }
    case Request::kIssuerSerial: {
      TF_ASSIGN_OR_RETURN(std::string issuer,
                          NormalizeSha256(request.issuer_serial().issuer_spki_sha256_hex(),
                                          "issuer_serial.issuer_spki_sha256_hex"));
      absl::StatusOr<std::string> serial =
          pki::CanonicalSerialHex(request.issuer_serial().serial_hex());
      if (!serial.ok()) return Annotate(serial.status(), "issuer_serial.serial_hex");
      revocation.set_kind(v1::REVOCATION_ISSUER_SERIAL);
      revocation.set_issuer_spki_sha256_hex(std::move(issuer));
      revocation.set_serial_hex(*std::move(serial));
      return revocation;
    }
    case Request::TARGET_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError(
      "target: set certificate_pem, sha256_hex, tbs_sha256_hex, key_sha256_hex or "
      "issuer_serial");
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RevokeCertificate(
    const Caller& caller, const v1::RevokeCertificateRequest& request) {
  Plan plan;
  plan.operation = "revocation.add";
  plan.options = &request.options();
  plan.force = request.force();
  absl::StatusOr<v1::Revocation> revocation = RevocationFor(request, &plan.warnings);
  if (!revocation.ok()) return Refuse(caller, plan, revocation.status());
  revocation->set_reason(request.reason());
  *revocation->mutable_revoked_at() = ToProtoTime(options_.clock());
  const bool der_only = revocation->kind() == v1::REVOCATION_DER_ONLY;
  const std::string sha = revocation->sha256_hex();
  *plan.changes.emplace_back().mutable_put_revocation() = *std::move(revocation);
  absl::StatusOr<v1::MutationResponse> response = Mutate(caller, plan);
  // The certificate may have been learned between the lookup and the
  // commit: then it is upgraded now.
  if (response.ok() && der_only) OnCertificatesLearned({sha});
  return response;
}

absl::StatusOr<v1::MutationResponse> ControlPlane::UnrevokeCertificate(
    const Caller& caller, const v1::UnrevokeCertificateRequest& request) {
  Plan plan;
  plan.operation = "revocation.remove";
  plan.options = &request.options();
  absl::Status status = [&]() -> absl::Status {
    const std::shared_ptr<const trust::TrustSnapshot> snap = current();
    const std::string& text = request.sha256_hex();
    if (absl::StrContains(text, ":") && !IsColonHex(text)) {
      // A key as listed.
      TF_ASSIGN_OR_RETURN(std::string key, CanonicalRevocationKey(text));
      for (const v1::Revocation& r : snap->proto().revocations()) {
        if (trust::RevocationKey(r) == key) {
          plan.changes.emplace_back().set_remove_revocation(key);
          return absl::OkStatus();
        }
      }
      return absl::NotFoundError(absl::StrCat("revocation ", key, " does not exist"));
    }
    absl::StatusOr<std::string> sha = NormalizeSha256(text, "sha256_hex");
    if (!sha.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("sha256_hex: ", trust::QuoteForMessage(text),
                       " is neither a revocation key (certificate:<hex>, key:<hex>, "
                       "serial:<hex>:<serial>) nor a sha-256 (64 hex characters)"));
    }
    // The DER-only revocation keyed on it, and those requested by it or
    // resolved from it (which record it).
    for (const v1::Revocation& r : snap->proto().revocations()) {
      if (r.sha256_hex() == *sha) {
        plan.changes.emplace_back().set_remove_revocation(trust::RevocationKey(r));
      }
    }
    if (plan.changes.empty()) {
      return absl::NotFoundError(absl::StrCat(
          "revocation ", *sha, " does not exist: no revocation was requested by or resolved "
                               "from a certificate with that sha-256"));
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) return Refuse(caller, plan, status);
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::Mutate(const Caller& caller, const Plan& plan) {
  absl::StatusOr<v1::MutationResponse> result = MutateUncounted(caller, plan);
  // DEADLINE_EXCEEDED of a propagation wait comes after a durable commit:
  // the commit was audited, the call was not refused.
  if (!result.ok() && !absl::IsDeadlineExceeded(result.status())) {
    return Refuse(caller, plan, result.status());
  }
  Count(plan.operation, result.status());
  MaybeCheckpoint(/*force=*/false);
  return result;
}

absl::Status ControlPlane::Refuse(const Caller& caller, const Plan& plan, absl::Status status) {
  Count(plan.operation, status);
  spdlog::info("mutation refused operation={} object={} actor=\"{}\" code={} reason=\"{}\"",
               plan.operation, trust::QuoteForMessage(PlanObjects(plan.changes)), caller.actor,
               CodeName(status.code()), std::string(status.message()));
  // Who, what, why (docs/design.md §6); the refusal stands even when the
  // record cannot be written, which is logged and counted instead.
  v1::AuditRecord record;
  record.set_actor(caller.actor);
  record.set_operation(plan.operation);
  record.set_object(PlanObjects(plan.changes));
  record.set_result(CodeName(status.code()));
  record.set_reason(std::string(status.message()).substr(0, kMaxSummaryBytes));
  *record.mutable_time() = ToProtoTime(options_.clock());
  absl::StatusOr<v1::AuditRecord> stored = store_->AppendAudit(std::move(record));
  if (!stored.ok()) {
    spdlog::error("refused {} by {} not audited: {}", plan.operation, caller.actor,
                  std::string(stored.status().message()));
    absl::MutexLock lock(&stats_mu_);
    ++audit_failures_;
  } else {
    MaybeCheckpoint(/*force=*/false);
  }
  return status;
}

void ControlPlane::MaybeCheckpoint(bool force) {
  if (!options_.checkpoint_key) return;
  absl::MutexLock lock(&checkpoint_mu_);
  absl::StatusOr<audit::AuditHead> head = store_->GetAuditHead();
  absl::StatusOr<v1::AuditCheckpoint> last = store_->LastCheckpoint();
  if (!head.ok() || !last.ok() || head->seq <= last->seq()) return;
  if (!force && head->seq - last->seq() < options_.audit_checkpoint_interval) return;
  absl::Status done = [&]() -> absl::Status {
    // Never sign over a chain that does not continue the last signed head
    // (records edited or deleted in the store meanwhile).
    TF_ASSIGN_OR_RETURN(std::vector<v1::AuditRecord> unsigned_records,
                        store_->AuditAfterSeq(last->seq(), head->seq - last->seq()));
    audit::AuditHead signed_head;
    if (last->seq() != 0) signed_head = {last->seq(), last->head_sha256()};
    std::vector<std::string> hashes;
    TF_RETURN_IF_ERROR(audit::CheckChainLinks(unsigned_records, signed_head, &hashes));
    if (hashes.empty() || hashes.back() != head->sha256) {
      return absl::DataLossError("the audit chain changed while it was checked");
    }
    TF_ASSIGN_OR_RETURN(audit::CheckpointKey key, options_.checkpoint_key());
    TF_ASSIGN_OR_RETURN(v1::AuditCheckpoint checkpoint,
                        audit::SignCheckpoint(options_.trust_domain, *head, options_.clock(), key));
    return store_->AddCheckpoint(checkpoint);
  }();
  if (!done.ok()) {
    spdlog::error("audit checkpoint at seq {} not written: {}", head->seq,
                  std::string(done.message()));
    absl::MutexLock stats(&stats_mu_);
    ++audit_failures_;
    return;
  }
  spdlog::info("audit checkpoint signed at seq {} ({})", head->seq, head->sha256);
}

void ControlPlane::Checkpoint() { MaybeCheckpoint(/*force=*/true); }

uint64_t ControlPlane::audit_failures() const {
  absl::MutexLock lock(&stats_mu_);
  return audit_failures_;
}

absl::StatusOr<v1::MutationResponse> ControlPlane::MutateUncounted(const Caller& caller,
                                                                   const Plan& plan) {
  TF_ASSIGN_OR_RETURN(Wait wait, ParseWait(plan.options));
  uint64_t revision = 0;
  std::vector<std::string> connected;
  {
    absl::MutexLock lock(&mu_);
    TF_ASSIGN_OR_RETURN(revision, CommitLocked(caller.actor, plan));
    // "All nodes" are those connected when the revision was committed.
    for (const NodeIdentity& node : nodes_->ConnectedNodes()) connected.push_back(node.spiffe_id);
  }
  v1::MutationResponse response;
  response.set_revision(revision);
  response.set_connected_nodes(static_cast<uint32_t>(connected.size()));
  for (const std::string& warning : plan.warnings) response.add_warnings(warning);
  if (!wait.enabled) return response;

  const absl::Time start = absl::Now();
  absl::Duration limit = wait.timeout;
  if (caller.deadline < start + limit) {
    limit =
        std::max(absl::ZeroDuration(), absl::Trunc(caller.deadline - start, absl::Milliseconds(1)));
  }
  NodeRegistry::WaitResult result =
      nodes_->WaitApplied(revision, wait.all_nodes ? connected : std::vector<std::string>{},
                          wait.min_nodes, start + limit);
  response.set_applied_nodes(result.applied);
  if (result.complete) return response;
  if (result.stopped) {
    return absl::UnavailableError(absl::StrCat("revision ", revision, " committed; ",
                                               result.applied, " of ", result.required,
                                               " nodes applied it before the control plane "
                                               "shut down"));
  }
  return absl::DeadlineExceededError(absl::StrCat("revision ", revision, " committed; ",
                                                  result.applied, " of ", result.required,
                                                  " nodes applied it within ", Seconds(limit)));
}

absl::StatusOr<ControlPlane::Wait> ControlPlane::ParseWait(
    const v1::MutationOptions* options) const {
  Wait wait;
  if (options == nullptr || !options->has_wait()) return wait;
  const v1::PropagationWait& w = options->wait();
  wait.timeout = options_.default_wait_timeout;
  if (w.has_timeout()) {
    const auto& t = w.timeout();
    if (t.seconds() < 0 || t.nanos() < 0 || t.nanos() >= 1000000000) {
      return absl::InvalidArgumentError("options.wait.timeout: must be a non-negative duration");
    }
    const absl::Duration d = FromProtoDuration(t);
    if (d > options_.max_wait_timeout) {
      return absl::InvalidArgumentError(absl::StrCat("options.wait.timeout: ", Seconds(d),
                                                     " exceeds the maximum of ",
                                                     Seconds(options_.max_wait_timeout)));
    }
    if (d > absl::ZeroDuration()) wait.timeout = d;
  }
  wait.all_nodes = w.all_nodes();
  wait.min_nodes = w.min_nodes();
  wait.enabled = wait.all_nodes || wait.min_nodes > 0;
  return wait;
}

absl::StatusOr<uint64_t> ControlPlane::CommitLocked(const std::string& actor, const Plan& plan) {
  const std::shared_ptr<const trust::TrustSnapshot> current = current_;
  if (plan.changes.empty()) return absl::InternalError("a mutation without changes");
  if (plan.options != nullptr && plan.options->has_expected_revision() &&
      plan.options->expected_revision() != current->revision()) {
    return absl::AbortedError(absl::StrCat("expected revision ", plan.options->expected_revision(),
                                           ", current is ", current->revision()));
  }
  const absl::Time now = options_.clock();
  trust::AdmissionOptions admission;
  admission.force = plan.force;
  admission.now = now;
  for (const v1::TrustChange& change : plan.changes) {
    TF_RETURN_IF_ERROR(trust::CheckAdmission(*current, change, admission));
  }
  if (plan.check_connected_nodes) TF_RETURN_IF_ERROR(CheckConnectedNodes(*current, plan));

  TF_ASSIGN_OR_RETURN(v1::TrustSnapshot next_proto,
                      trust::ApplyChanges(current->proto(), plan.changes));
  next_proto.set_revision(current->revision() + 1);
  *next_proto.mutable_generation() = current->proto().generation();
  *next_proto.mutable_created_at() = ToProtoTime(now);
  TF_ASSIGN_OR_RETURN(std::shared_ptr<const trust::TrustSnapshot> next,
                      trust::TrustSnapshot::Create(std::move(next_proto), current.get()));

  Mutation mutation;
  mutation.expected_revision = current->revision();
  mutation.trust_domain = options_.trust_domain;
  mutation.realm = options_.realm;
  mutation.changes = plan.changes;
  mutation.time = now;
  for (const v1::TrustChange& change : plan.changes) {
    v1::AuditRecord& record = mutation.audit.emplace_back(DescribeChange(change, *current));
    record.set_actor(actor);
    *record.mutable_time() = ToProtoTime(now);
    if (plan.force)
      record.set_after(record.after().empty() ? "forced" : record.after() + " (forced)");
  }
  TF_ASSIGN_OR_RETURN(const uint64_t revision, store_->Commit(mutation));

  if (revision != next->revision()) {
    // A store that numbers revisions itself (not consecutively).
    v1::TrustSnapshot renumbered = next->proto();
    renumbered.set_revision(revision);
    TF_ASSIGN_OR_RETURN(next, trust::TrustSnapshot::Create(std::move(renumbered), next.get()));
  }
  absl::Status swapped = holder_->Swap(next);
  if (!swapped.ok()) {
    return absl::InternalError(
        absl::StrCat("revision ", revision, " committed but not installed: ", swapped.message()));
  }
  current_ = next;
  v1::TrustDelta delta;
  delta.set_base_revision(current->revision());
  delta.set_revision(revision);
  for (const v1::TrustChange& change : plan.changes) *delta.add_changes() = change;
  *delta.mutable_created_at() = next->proto().created_at();
  updates_.Publish(next, std::move(delta));
  spdlog::info("mutation committed operation={} object={} actor=\"{}\" revision={}{}",
               plan.operation, trust::QuoteForMessage(PlanObjects(plan.changes)), actor, revision,
               plan.force ? " forced" : "");
  LearnSnapshot(*next, &plan.changes);
  return revision;
}

absl::Status ControlPlane::CheckConnectedNodes(const trust::TrustSnapshot& current,
                                               const Plan& plan) const {
  if (plan.force) return absl::OkStatus();
  for (const v1::TrustChange& change : plan.changes) {
    if (change.has_remove_root()) {
      TF_RETURN_IF_ERROR(CheckRootRemoval(current, change.remove_root()));
    } else if (change.has_put_revocation()) {
      TF_RETURN_IF_ERROR(CheckRevocation(change.put_revocation()));
    }
  }
  return absl::OkStatus();
}

absl::Status ControlPlane::CheckRootRemoval(const trust::TrustSnapshot& current,
                                            const std::string& name) const {
  const v1::RootAuthority* root = current.FindRoot(name);
  if (root == nullptr || root->trust_domain() != options_.trust_domain ||
      !HasPurpose(*root, v1::MTLS)) {
    return absl::OkStatus();
  }
  absl::flat_hash_set<std::string> removed;
  for (const pki::Certificate& c : *current.RootCertificates(name)) removed.insert(c.Sha256Hex());
  // A certificate also carried by another local MTLS root keeps anchoring.
  absl::flat_hash_set<std::string> remaining;
  for (const v1::RootAuthority& other : current.proto().roots()) {
    if (other.name() == name || other.trust_domain() != options_.trust_domain ||
        !HasPurpose(other, v1::MTLS)) {
      continue;
    }
    for (const pki::Certificate& c : *current.RootCertificates(other.name())) {
      remaining.insert(c.Sha256Hex());
    }
  }
  std::vector<std::string> affected;
  for (const NodeIdentity& node : nodes_->ConnectedNodes()) {
    bool anchored_here = false;
    bool anchored_elsewhere = false;
    for (const std::string& sha : node.chain_sha256) {
      anchored_here = anchored_here || removed.contains(sha);
      anchored_elsewhere = anchored_elsewhere || remaining.contains(sha);
    }
    if (anchored_here && !anchored_elsewhere) affected.push_back(node.spiffe_id);
  }
  if (affected.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "root authority ", name, " anchors the identity of connected nodes ", NodeList(affected),
      "; re-issue their certificates under another root first or force the removal"));
}

absl::Status ControlPlane::CheckRevocation(const v1::Revocation& revocation) const {
  std::vector<std::string> affected;
  std::string matched;
  for (const NodeIdentity& node : nodes_->ConnectedNodes()) {
    // Facts when the stream had them, else the DER hashes alone.
    std::vector<CertificateFacts> chain = node.chain;
    if (chain.empty()) {
      for (const std::string& sha : node.chain_sha256) chain.emplace_back().sha256_hex = sha;
    }
    for (const CertificateFacts& facts : chain) {
      if (!RevocationMatches(revocation, facts)) continue;
      affected.push_back(node.spiffe_id);
      if (matched.empty()) {
        matched = facts.subject.empty()
                      ? facts.sha256_hex
                      : absl::StrCat(facts.sha256_hex, " (", trust::QuoteForMessage(facts.subject),
                                     ")");
      }
      break;
    }
  }
  if (affected.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "revocation ", trust::RevocationKey(revocation), " matches certificate ", matched,
      " in the identity chain of connected nodes ", NodeList(affected),
      "; re-issue their certificates first or force the revocation"));
}

void ControlPlane::LearnSnapshot(const trust::TrustSnapshot& snapshot,
                                 const std::vector<v1::TrustChange>* only) {
  absl::flat_hash_set<std::string> roots;
  absl::flat_hash_set<std::string> issuers;
  if (only != nullptr) {
    for (const v1::TrustChange& change : *only) {
      if (change.has_put_root()) roots.insert(change.put_root().name());
      if (change.has_put_issuer()) issuers.insert(change.put_issuer().name());
    }
    if (roots.empty() && issuers.empty()) return;
  }
  std::vector<CertificateFacts> facts;
  for (const v1::RootAuthority& root : snapshot.proto().roots()) {
    if (only != nullptr && !roots.contains(root.name())) continue;
    if (const std::vector<pki::Certificate>* certs = snapshot.RootCertificates(root.name())) {
      for (const pki::Certificate& c : *certs) {
        facts.push_back(FactsOf(c, nullptr, CertificateSource::kRoot));
      }
    }
  }
  for (const trust::IssuerEntry& issuer : snapshot.issuers()) {
    if (only != nullptr && !issuers.contains(issuer.proto.name())) continue;
    for (const pki::Certificate& c : issuer.signing_certificates) {
      facts.push_back(FactsOf(c, nullptr, CertificateSource::kIssuer));
    }
  }
  certificates_.AddKnown(facts);
}

void ControlPlane::OnCertificatesLearned(const std::vector<std::string>& learned) {
  const std::shared_ptr<const trust::TrustSnapshot> snap = holder_->Get();
  if (snap == nullptr) return;
  absl::MutexLock lock(&upgrade_mu_);
  if (der_only_revision_ != snap->revision()) {
    der_only_.clear();
    for (const v1::Revocation& r : snap->proto().revocations()) {
      if (r.kind() == v1::REVOCATION_DER_ONLY) der_only_.insert(r.sha256_hex());
    }
    der_only_revision_ = snap->revision();
  }
  if (der_only_.empty()) return;
  for (const std::string& sha : learned) {
    // Bounded by the number of revocations a snapshot may hold.
    if (der_only_.contains(sha) && upgrade_queue_.size() < trust::kMaxRevocations) {
      upgrade_queue_.push_back(sha);
    }
  }
}

void ControlPlane::RunUpgrades() {
  while (true) {
    std::string sha;
    {
      absl::MutexLock lock(&upgrade_mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(upgrade_mu_) {
        return stop_upgrades_ || !upgrade_queue_.empty();
      };
      upgrade_mu_.Await(absl::Condition(&ready));
      if (stop_upgrades_) return;
      sha = std::move(upgrade_queue_.front());
      upgrade_queue_.pop_front();
    }
    Upgrade(sha);
  }
}

void ControlPlane::Upgrade(const std::string& sha256_hex) {
  std::optional<CertificateFacts> facts = certificates_.Find(sha256_hex);
  if (!facts.has_value() || facts->der_only()) return;
  Plan plan;
  plan.operation = "revocation.upgrade";
  plan.check_connected_nodes = false;
  absl::StatusOr<uint64_t> revision;
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    if (current_ == nullptr) return;
    const v1::Revocation* legacy = nullptr;
    bool upgraded_exists = false;
    v1::Revocation upgraded;
    upgraded.set_kind(v1::REVOCATION_CERTIFICATE);
    upgraded.set_tbs_sha256_hex(facts->tbs_sha256_hex);
    key = trust::RevocationKey(upgraded);
    for (const v1::Revocation& r : current_->proto().revocations()) {
      if (r.kind() == v1::REVOCATION_DER_ONLY && r.sha256_hex() == sha256_hex) legacy = &r;
      if (trust::RevocationKey(r) == key) upgraded_exists = true;
    }
    // Removed or upgraded meanwhile.
    if (legacy == nullptr) return;
    upgraded.set_sha256_hex(sha256_hex);
    upgraded.set_reason(legacy->reason());
    *upgraded.mutable_revoked_at() = legacy->revoked_at();
    upgraded.set_subject(legacy->subject().empty() ? facts->subject : legacy->subject());
    plan.changes.emplace_back().set_remove_revocation(trust::RevocationKey(*legacy));
    // The certificate may be revoked by its body already; then the weak
    // revocation only goes.
    if (!upgraded_exists) *plan.changes.emplace_back().mutable_put_revocation() = upgraded;
    revision = CommitLocked(kRevocationUpgradeActor, plan);
    if (revision.ok()) {
      // Counted before the revision can be read elsewhere.
      absl::MutexLock upgrade_lock(&upgrade_mu_);
      ++upgraded_;
    }
  }
  Count(plan.operation, revision.status());
  if (!revision.ok()) {
    spdlog::warn("revocation {} not upgraded to {}: {}", sha256_hex, key,
                 std::string(revision.status().message()));
    return;
  }
  spdlog::info("revocation {} upgraded to {} ({}, learned from {}) at revision {}", sha256_hex, key,
               trust::QuoteForMessage(facts->subject),
               std::string(CertificateSourceName(facts->source)), *revision);
}

uint64_t ControlPlane::revocations_upgraded() const {
  absl::MutexLock lock(&upgrade_mu_);
  return upgraded_;
}

void ControlPlane::Count(const std::string& operation, const absl::Status& status) {
  absl::MutexLock lock(&stats_mu_);
  ++mutation_counts_[{operation, status.ok() ? "ok" : CodeName(status.code())}];
}

std::map<std::pair<std::string, std::string>, uint64_t> ControlPlane::MutationCounts() const {
  absl::MutexLock lock(&stats_mu_);
  return mutation_counts_;
}

// --- reads -----------------------------------------------------------------

v1::ListRootAuthoritiesResponse ControlPlane::ListRootAuthorities() const {
  std::shared_ptr<const trust::TrustSnapshot> s = current();
  v1::ListRootAuthoritiesResponse out;
  out.set_revision(s->revision());
  *out.mutable_roots() = s->proto().roots();
  return out;
}

v1::ListTokenIssuersResponse ControlPlane::ListTokenIssuers() const {
  std::shared_ptr<const trust::TrustSnapshot> s = current();
  v1::ListTokenIssuersResponse out;
  out.set_revision(s->revision());
  *out.mutable_issuers() = s->proto().issuers();
  return out;
}

v1::ListFederationPeersResponse ControlPlane::ListFederationPeers() const {
  std::shared_ptr<const trust::TrustSnapshot> s = current();
  v1::ListFederationPeersResponse out;
  out.set_revision(s->revision());
  *out.mutable_peers() = s->proto().peers();
  return out;
}

v1::ListRevocationsResponse ControlPlane::ListRevocations() const {
  std::shared_ptr<const trust::TrustSnapshot> s = current();
  v1::ListRevocationsResponse out;
  out.set_revision(s->revision());
  for (const v1::Revocation& r : s->proto().revocations()) {
    v1::RevocationListing* listing = out.add_revocations();
    *listing->mutable_revocation() = r;
    listing->set_key(trust::RevocationKey(r));
    listing->set_weak(r.kind() == v1::REVOCATION_DER_ONLY);
  }
  return out;
}

v1::TrustSnapshot ControlPlane::GetSnapshot() const { return current()->proto(); }

v1::GetPropagationStatusResponse ControlPlane::GetPropagationStatus() const {
  std::shared_ptr<const trust::TrustSnapshot> s = current();
  v1::GetPropagationStatusResponse out;
  out.set_revision(s->revision());
  uint32_t der_only = 0;
  for (const v1::Revocation& r : s->proto().revocations()) {
    if (r.kind() == v1::REVOCATION_DER_ONLY) ++der_only;
  }
  out.set_der_only_revocations(der_only);
  for (v1::NodeStatus& node : nodes_->Status()) *out.add_nodes() = std::move(node);
  return out;
}

absl::StatusOr<v1::GetAuditLogResponse> ControlPlane::GetAuditLog(
    const v1::GetAuditLogRequest& request) const {
  uint32_t limit = request.limit() == 0 ? kDefaultAuditLimit : request.limit();
  if (limit > kMaxAuditLimit) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: ", limit, " exceeds the maximum of ", kMaxAuditLimit));
  }
  if (request.since_seq() != 0 && request.since_revision() != 0) {
    return absl::InvalidArgumentError("since_seq: only one of since_revision and since_seq");
  }
  TF_ASSIGN_OR_RETURN(std::vector<v1::AuditRecord> records,
                      request.since_seq() != 0 ? store_->AuditAfterSeq(request.since_seq(), limit)
                                               : store_->Audit(request.since_revision(), limit));
  v1::GetAuditLogResponse out;
  if (!records.empty()) {
    TF_ASSIGN_OR_RETURN(std::vector<v1::AuditCheckpoint> checkpoints,
                        store_->Checkpoints(records.front().seq(), records.back().seq()));
    for (v1::AuditCheckpoint& c : checkpoints) *out.add_checkpoints() = std::move(c);
  }
  for (v1::AuditRecord& r : records) *out.add_records() = std::move(r);
  return out;
}

}  // namespace trustfabric::control
