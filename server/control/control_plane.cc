// The control plane's domain logic; see control_plane.h.
#include "server/control/control_plane.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "common/pki/certificate.h"
#include "common/pki/spiffe.h"
#include "common/status/status.h"
#include "common/trust/admission.h"
#include "common/trust/delta.h"
#include "common/trust/validation.h"
#include "server/control/audit.h"
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

}  // namespace

ControlPlane::ControlPlane(Options options, std::unique_ptr<Store> store,
                           trust::SnapshotHolder* holder, NodeRegistry* nodes)
    : options_(std::move(options)),
      holder_(holder),
      nodes_(nodes),
      updates_(UpdateLog::Options{options_.history_revisions, options_.chunk_bytes}),
      store_(std::move(store)) {}

absl::StatusOr<std::unique_ptr<ControlPlane>> ControlPlane::Create(Options options,
                                                                   std::unique_ptr<Store> store,
                                                                   trust::SnapshotHolder* holder,
                                                                   NodeRegistry* nodes) {
  std::unique_ptr<ControlPlane> cp(
      new ControlPlane(std::move(options), std::move(store), holder, nodes));
  TF_RETURN_IF_ERROR(cp->Load());
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
    absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> base =
        trust::TrustSnapshot::Create(std::move(empty));
    if (!base.ok()) return Annotate(base.status(), "configuration");
    current_ = *std::move(base);

    Plan seed;
    seed.operation = "root.add";
    v1::RootAuthority* root = seed.change.mutable_put_root();
    root->set_name(options_.seed_root_name);
    root->set_trust_domain(options_.trust_domain);
    root->set_certificates_pem(options_.seed_root_pem);
    root->add_purposes(v1::MTLS);
    root->add_purposes(v1::TOKEN_SIGNING);
    absl::StatusOr<uint64_t> revision = CommitLocked(kBootstrapActor, seed);
    if (!revision.ok()) return Annotate(revision.status(), "seed root");
    spdlog::info("control plane seeded {} with root authority {} at revision {}",
                 options_.trust_domain, options_.seed_root_name, *revision);
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
  spdlog::info(
      "control plane loaded {} at revision {} ({} roots, {} issuers, {} peers, {} "
      "revocations, {} deltas of history) in {} (store read {})",
      options_.trust_domain, current_->revision(), current_->proto().roots_size(),
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
    absl::Status status = absl::InvalidArgumentError("root: must be set");
    Count(plan.operation, status);
    return status;
  }
  *plan.change.mutable_put_root() = request.root();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveRootAuthority(
    const Caller& caller, const v1::RemoveRootAuthorityRequest& request) {
  Plan plan;
  plan.operation = "root.remove";
  plan.options = &request.options();
  plan.force = request.force();
  if (absl::Status s = CheckObjectName(request.name(), "name"); !s.ok()) {
    Count(plan.operation, s);
    return s;
  }
  plan.change.set_remove_root(request.name());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::AddTokenIssuer(
    const Caller& caller, const v1::AddTokenIssuerRequest& request) {
  Plan plan;
  plan.operation = "issuer.add";
  plan.options = &request.options();
  if (!request.has_issuer()) {
    absl::Status status = absl::InvalidArgumentError("issuer: must be set");
    Count(plan.operation, status);
    return status;
  }
  *plan.change.mutable_put_issuer() = request.issuer();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveTokenIssuer(
    const Caller& caller, const v1::RemoveTokenIssuerRequest& request) {
  Plan plan;
  plan.operation = "issuer.remove";
  plan.options = &request.options();
  if (absl::Status s = CheckObjectName(request.name(), "name"); !s.ok()) {
    Count(plan.operation, s);
    return s;
  }
  plan.change.set_remove_issuer(request.name());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::PutFederationPeer(
    const Caller& caller, const v1::PutFederationPeerRequest& request) {
  Plan plan;
  plan.operation = "peer.put";
  plan.options = &request.options();
  if (!request.has_peer()) {
    absl::Status status = absl::InvalidArgumentError("peer: must be set");
    Count(plan.operation, status);
    return status;
  }
  *plan.change.mutable_put_peer() = request.peer();
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RemoveFederationPeer(
    const Caller& caller, const v1::RemoveFederationPeerRequest& request) {
  Plan plan;
  plan.operation = "peer.remove";
  plan.options = &request.options();
  if (!pki::IsValidDnsName(request.trust_domain())) {
    absl::Status status = absl::InvalidArgumentError(
        absl::StrCat("trust_domain: ", trust::QuoteForMessage(request.trust_domain()),
                     " is not a valid trust domain"));
    Count(plan.operation, status);
    return status;
  }
  plan.change.set_remove_peer(request.trust_domain());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::RevokeCertificate(
    const Caller& caller, const v1::RevokeCertificateRequest& request) {
  Plan plan;
  plan.operation = "revocation.add";
  plan.options = &request.options();
  plan.force = request.force();
  v1::Revocation* revocation = plan.change.mutable_put_revocation();
  absl::Status status;
  switch (request.target_case()) {
    case v1::RevokeCertificateRequest::kCertificatePem: {
      absl::StatusOr<pki::Certificate> cert = pki::Certificate::FromPem(request.certificate_pem());
      if (!cert.ok()) {
        status = Annotate(cert.status(), "certificate_pem");
        break;
      }
      revocation->set_sha256_hex(cert->Sha256Hex());
      revocation->set_subject(cert->Subject());
      break;
    }
    case v1::RevokeCertificateRequest::kSha256Hex: {
      absl::StatusOr<std::string> sha = NormalizeSha256(request.sha256_hex(), "sha256_hex");
      if (!sha.ok()) {
        status = sha.status();
        break;
      }
      revocation->set_sha256_hex(*sha);
      break;
    }
    case v1::RevokeCertificateRequest::kTbsSha256Hex: {
      absl::StatusOr<std::string> sha = NormalizeSha256(request.tbs_sha256_hex(), "tbs_sha256_hex");
      if (!sha.ok()) {
        status = sha.status();
        break;
      }
      revocation->set_kind(v1::REVOCATION_CERTIFICATE);
      revocation->set_tbs_sha256_hex(*sha);
      break;
    }
    case v1::RevokeCertificateRequest::kKeySha256Hex: {
      absl::StatusOr<std::string> sha = NormalizeSha256(request.key_sha256_hex(), "key_sha256_hex");
      if (!sha.ok()) {
        status = sha.status();
        break;
      }
      revocation->set_kind(v1::REVOCATION_KEY);
      revocation->set_spki_sha256_hex(*sha);
      break;
    }
    case v1::RevokeCertificateRequest::kIssuerSerial: {
      absl::StatusOr<std::string> issuer = NormalizeSha256(
          request.issuer_serial().issuer_spki_sha256_hex(), "issuer_serial.issuer_spki_sha256_hex");
      absl::StatusOr<std::string> serial =
          pki::CanonicalSerialHex(request.issuer_serial().serial_hex());
      if (!issuer.ok() || !serial.ok()) {
        status = !issuer.ok() ? issuer.status()
                              : Annotate(serial.status(), "issuer_serial.serial_hex");
        break;
      }
      revocation->set_kind(v1::REVOCATION_ISSUER_SERIAL);
      revocation->set_issuer_spki_sha256_hex(*issuer);
      revocation->set_serial_hex(*serial);
      break;
    }
    case v1::RevokeCertificateRequest::TARGET_NOT_SET:
      status = absl::InvalidArgumentError("target: set certificate_pem or sha256_hex");
      break;
  }
  if (!status.ok()) {
    Count(plan.operation, status);
    return status;
  }
  revocation->set_reason(request.reason());
  *revocation->mutable_revoked_at() = ToProtoTime(options_.clock());
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::UnrevokeCertificate(
    const Caller& caller, const v1::UnrevokeCertificateRequest& request) {
  Plan plan;
  plan.operation = "revocation.remove";
  plan.options = &request.options();
  absl::StatusOr<std::string> sha = NormalizeSha256(request.sha256_hex(), "sha256_hex");
  if (!sha.ok()) {
    Count(plan.operation, sha.status());
    return sha.status();
  }
  plan.change.set_remove_revocation(*sha);
  return Mutate(caller, plan);
}

absl::StatusOr<v1::MutationResponse> ControlPlane::Mutate(const Caller& caller, const Plan& plan) {
  absl::StatusOr<v1::MutationResponse> result = MutateUncounted(caller, plan);
  Count(plan.operation, result.status());
  if (!result.ok()) {
    spdlog::info("mutation refused operation={} object={} actor=\"{}\" code={} reason=\"{}\"",
                 plan.operation, trust::QuoteForMessage(ObjectKey(plan.change)), caller.actor,
                 CodeName(result.status().code()), std::string(result.status().message()));
  }
  return result;
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
  if (plan.options != nullptr && plan.options->has_expected_revision() &&
      plan.options->expected_revision() != current->revision()) {
    return absl::AbortedError(absl::StrCat("expected revision ", plan.options->expected_revision(),
                                           ", current is ", current->revision()));
  }
  const absl::Time now = options_.clock();
  trust::AdmissionOptions admission;
  admission.force = plan.force;
  admission.now = now;
  TF_RETURN_IF_ERROR(trust::CheckAdmission(*current, plan.change, admission));
  TF_RETURN_IF_ERROR(CheckConnectedNodes(*current, plan));

  const std::vector<v1::TrustChange> changes = {plan.change};
  TF_ASSIGN_OR_RETURN(v1::TrustSnapshot next_proto, trust::ApplyChanges(current->proto(), changes));
  next_proto.set_revision(current->revision() + 1);
  *next_proto.mutable_created_at() = ToProtoTime(now);
  TF_ASSIGN_OR_RETURN(std::shared_ptr<const trust::TrustSnapshot> next,
                      trust::TrustSnapshot::Create(std::move(next_proto), current.get()));

  Mutation mutation;
  mutation.expected_revision = current->revision();
  mutation.trust_domain = options_.trust_domain;
  mutation.realm = options_.realm;
  mutation.changes = changes;
  mutation.time = now;
  v1::AuditRecord& record = mutation.audit.emplace_back(DescribeChange(plan.change, *current));
  record.set_actor(actor);
  *record.mutable_time() = ToProtoTime(now);
  if (plan.force)
    record.set_after(record.after().empty() ? "forced" : record.after() + " (forced)");
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
  *delta.add_changes() = plan.change;
  *delta.mutable_created_at() = next->proto().created_at();
  updates_.Publish(next, std::move(delta));
  spdlog::info("mutation committed operation={} object={} actor=\"{}\" revision={}{}",
               plan.operation, trust::QuoteForMessage(record.object()), actor, revision,
               plan.force ? " forced" : "");
  return revision;
}

absl::Status ControlPlane::CheckConnectedNodes(const trust::TrustSnapshot& current,
                                               const Plan& plan) const {
  if (plan.force) return absl::OkStatus();
  std::vector<std::string> affected;
  if (plan.change.has_remove_root()) {
    const std::string& name = plan.change.remove_root();
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
  if (plan.change.has_put_revocation()) {
    const std::string& sha = plan.change.put_revocation().sha256_hex();
    for (const NodeIdentity& node : nodes_->ConnectedNodes()) {
      if (std::find(node.chain_sha256.begin(), node.chain_sha256.end(), sha) !=
          node.chain_sha256.end()) {
        affected.push_back(node.spiffe_id);
      }
    }
    if (affected.empty()) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "certificate ", sha, " is in the identity chain of connected nodes ", NodeList(affected),
        "; re-issue their certificates first or force the revocation"));
  }
  return absl::OkStatus();
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

v1::TrustSnapshot ControlPlane::GetSnapshot() const { return current()->proto(); }

v1::GetPropagationStatusResponse ControlPlane::GetPropagationStatus() const {
  v1::GetPropagationStatusResponse out;
  out.set_revision(revision());
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
  TF_ASSIGN_OR_RETURN(std::vector<v1::AuditRecord> records,
                      store_->Audit(request.since_revision(), limit));
  v1::GetAuditLogResponse out;
  for (v1::AuditRecord& r : records) *out.add_records() = std::move(r);
  return out;
}

}  // namespace trustfabric::control
