// ControlPlane: the domain logic of the admin API (docs/design.md §6), free of
// gRPC.
//
// Owns the store and the update log; feeds the process's SnapshotHolder
// (so TLS verification of admins and nodes follows every commit) and reads
// the NodeRegistry (propagation status and waits, safe rotation). Every
// mutation runs, under one lock:
//   request checks (INVALID_ARGUMENT naming the field)
//   -> compare-and-swap on options.expected_revision (ABORTED)
//   -> trust::CheckAdmission against the current snapshot
//   -> safe rotation: no connected node of the domain may lose its anchor or
//      have a certificate of its chain revoked (by any revocation kind)
//      unless forced (FAILED_PRECONDITION naming them)
//   -> trust::ApplyChanges, then TrustSnapshot::Create (structural rules)
//   -> Store::Commit with the audit record (durable from here on)
//   -> swap into the holder, publish to the update log (watchers).
// Then, outside the lock, the optional propagation wait. On any error
// before the commit nothing is stored. A mutation may carry several changes
// (one revision, one audit record each).
//
// Revocations by DER hash are resolved against the control plane's
// CertificateIndex (certificates()), which the Watch streams feed with the
// nodes' identities and the peer certificates they report. A legacy
// DER-only revocation whose certificate the index learns is upgraded to a
// revocation of the signed body by a worker thread of the control plane
// (actor "revocation-upgrade"), never on the thread that reported it.
//
//   ControlPlane::Options opts;
//   opts.trust_domain = "contoso.test";
//   opts.realm = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";
//   opts.seed_root_name = "contoso-root";
//   opts.seed_root_pem = root_pem;
//   TF_ASSIGN_OR_RETURN(auto cp, ControlPlane::Create(opts, std::move(store), &holder, &nodes));
//   v1::AddRootAuthorityRequest req;
//   *req.mutable_root() = partner_root;
//   TF_ASSIGN_OR_RETURN(v1::MutationResponse r,
//                       cp->AddRootAuthority({.actor = "spiffe://contoso.test/admin/alice"}, req));
#ifndef TRUSTFABRIC_SERVER_CONTROL_CONTROL_PLANE_H_
#define TRUSTFABRIC_SERVER_CONTROL_CONTROL_PLANE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "common/audit/audit_chain.h"
#include "server/control/certificate_index.h"
#include "server/control/node_registry.h"
#include "server/control/store.h"
#include "server/control/update_log.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

// Who calls, and until when they wait.
struct Caller {
  // The caller's SPIFFE ID: the audit actor.
  std::string actor;
  // The RPC deadline; a propagation wait never outlasts it.
  absl::Time deadline = absl::InfiniteFuture();
};

// The actor of the seeding commit.
inline constexpr char kBootstrapActor[] = "bootstrap";
// The actor of the automatic upgrade of DER-only revocations.
inline constexpr char kRevocationUpgradeActor[] = "revocation-upgrade";

class ControlPlane {
 public:
  struct Options {
    // The local trust domain and its token realm; must match a non-empty
    // store.
    std::string trust_domain;
    std::string realm;
    // Committed as revision 1 (purposes MTLS and TOKEN_SIGNING, actor
    // "bootstrap") when the store is empty. Required for an empty store.
    std::string seed_root_name;
    std::string seed_root_pem;
    // Deltas the update log retains (the store is configured separately
    // with the same value).
    uint32_t history_revisions = 1000;
    size_t chunk_bytes = kDefaultChunkBytes;
    // Propagation waits.
    absl::Duration default_wait_timeout = absl::Seconds(10);
    absl::Duration max_wait_timeout = absl::Minutes(5);
    Clock clock = RealClock();
    // The key audit checkpoints are signed with (read on each checkpoint,
    // so a rotated identity is followed); none are signed when empty.
    std::function<absl::StatusOr<audit::CheckpointKey>()> checkpoint_key;
    // A checkpoint after this many audit records; also one at start-up and
    // one at Checkpoint() (shutdown).
    uint32_t audit_checkpoint_interval = 100;
  };

  // Loads the store (seeding it when empty), swaps its state into
  // `holder`, and signs a checkpoint of the audit records not yet covered. `holder` and `nodes` must outlive the control plane, and the
  // control plane must be the only writer of `holder`.
  //   FAILED_PRECONDITION: the store belongs to another trust domain or
  //     realm; the store is empty and no seed root is configured; `holder`
  //     already holds a newer revision;
  //   INVALID_ARGUMENT: the stored state or the seed root is invalid;
  //   store errors as they come.
  static absl::StatusOr<std::unique_ptr<ControlPlane>> Create(Options options,
                                                              std::unique_ptr<Store> store,
                                                              trust::SnapshotHolder* holder,
                                                              NodeRegistry* nodes);

  // Stops the upgrade worker (an upgrade in progress is finished first).
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Mutations. Each returns the revision it produced; with options.wait,
  // DEADLINE_EXCEEDED "revision 12 committed; 2 of 3 nodes applied it
  // within 10s" when nodes did not apply it in time (it stays committed).
  absl::StatusOr<v1::MutationResponse> AddRootAuthority(const Caller& caller,
                                                        const v1::AddRootAuthorityRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> RemoveRootAuthority(
      const Caller& caller, const v1::RemoveRootAuthorityRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> AddTokenIssuer(const Caller& caller,
                                                      const v1::AddTokenIssuerRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> RemoveTokenIssuer(
      const Caller& caller, const v1::RemoveTokenIssuerRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> PutFederationPeer(
      const Caller& caller, const v1::PutFederationPeerRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> RemoveFederationPeer(
      const Caller& caller, const v1::RemoveFederationPeerRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);
  // The target, by kind of revocation stored:
  //   certificate_pem (the first certificate of a PEM bundle): CERTIFICATE
  //     (its signed body), or KEY with revoke_key; the subject and DER hash
  //     are recorded for listings.
  //   sha256_hex (hex; upper case and ':' separators accepted): resolved
  //     through certificates() to CERTIFICATE (or KEY with revoke_key),
  //     recording the DER hash. A hash the index does not know is refused,
  //     FAILED_PRECONDITION "sha256_hex: certificate <hex> is not known to
  //     the control plane: ...", unless der_only, which stores a DER_ONLY
  //     revocation and returns a warning that a re-encoded copy of the
  //     certificate is not refused.
  //   tbs_sha256_hex: CERTIFICATE; key_sha256_hex: KEY; issuer_serial:
  //     ISSUER_SERIAL (serial in pki::CanonicalSerialHex form).
  // INVALID_ARGUMENT naming the field for malformed targets, revoke_key
  // without a certificate target, der_only without sha256_hex;
  // ALREADY_EXISTS when a revocation with the same key exists.
  absl::StatusOr<v1::MutationResponse> RevokeCertificate(
      const Caller& caller, const v1::RevokeCertificateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  // request.sha256_hex names a revocation key as ListRevocations shows it
  // ("certificate:<hex>", "key:<hex>", "serial:<hex>:<serial>", or the bare
  // hash of a DER-only revocation), or a DER hash: every revocation
  // requested by or resolved from that hash goes, in one revision.
  // NOT_FOUND when nothing matches; INVALID_ARGUMENT when it is neither.
  absl::StatusOr<v1::MutationResponse> UnrevokeCertificate(
      const Caller& caller, const v1::UnrevokeCertificateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Reads, of the current snapshot.
  v1::ListRootAuthoritiesResponse ListRootAuthorities() const;
  v1::ListTokenIssuersResponse ListTokenIssuers() const;
  v1::ListFederationPeersResponse ListFederationPeers() const;
  // Every revocation with its key; DER-only ones are marked weak.
  v1::ListRevocationsResponse ListRevocations() const;
  v1::TrustSnapshot GetSnapshot() const;
  v1::GetPropagationStatusResponse GetPropagationStatus() const;
  // limit: default 100, at most 10,000 (INVALID_ARGUMENT beyond). Pages by
  // since_seq or since_revision (not both), with the checkpoints that fall
  // within the records returned.
  absl::StatusOr<v1::GetAuditLogResponse> GetAuditLog(const v1::GetAuditLogRequest& request) const;

  // Signs a checkpoint of the audit chain's head unless one covers it
  // already (at shutdown; mutations and refusals checkpoint every
  // options.audit_checkpoint_interval records themselves). A failure is
  // logged and counted in audit_failures().
  void Checkpoint() ABSL_LOCKS_EXCLUDED(checkpoint_mu_);
  // Refusals that could not be audited and checkpoints that could not be
  // written, since start.
  uint64_t audit_failures() const ABSL_LOCKS_EXCLUDED(stats_mu_);

  std::shared_ptr<const trust::TrustSnapshot> current() const;
  uint64_t revision() const;
  UpdateLog& updates() { return updates_; }
  const NodeRegistry& nodes() const { return *nodes_; }
  // What the control plane knows of certificates (thread-safe): the Watch
  // streams add node identities and reports; roots and issuers are added
  // on every commit.
  CertificateIndex& certificates() { return certificates_; }

  // DER-only revocations upgraded since start (see the banner).
  uint64_t revocations_upgraded() const ABSL_LOCKS_EXCLUDED(upgrade_mu_);

  // Mutation attempts since start by (operation, result), where result is
  // "ok" or the status code name (e.g. "aborted"), for metrics.
  std::map<std::pair<std::string, std::string>, uint64_t> MutationCounts() const
      ABSL_LOCKS_EXCLUDED(stats_mu_);

 private:
  // A mutation as the pipeline sees it.
  struct Plan {
    std::string operation;  // "root.add", ...
    // Applied in order in one revision; each is admitted against the state
    // before the mutation, so they touch distinct objects.
    std::vector<v1::TrustChange> changes;
    const v1::MutationOptions* options = nullptr;
    bool force = false;
    // Safe rotation (CheckConnectedNodes); off for upgrades, which refuse
    // nothing the revocation they replace did not refuse, save re-encoded
    // copies of it.
    bool check_connected_nodes = true;
    // Returned in MutationResponse.warnings.
    std::vector<std::string> warnings;
  };
  struct Wait {
    bool enabled = false;
    bool all_nodes = false;
    uint32_t min_nodes = 0;
    absl::Duration timeout;
  };

  ControlPlane(Options options, std::unique_ptr<Store> store, trust::SnapshotHolder* holder,
               NodeRegistry* nodes);

  absl::Status Load() ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> Mutate(const Caller& caller, const Plan& plan)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> MutateUncounted(const Caller& caller, const Plan& plan)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Admission, safe rotation, apply, validate, commit, publish.
  absl::StatusOr<uint64_t> CommitLocked(const std::string& actor, const Plan& plan)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CheckConnectedNodes(const trust::TrustSnapshot& current, const Plan& plan) const;
  absl::Status CheckRootRemoval(const trust::TrustSnapshot& current, const std::string& name) const;
  absl::Status CheckRevocation(const v1::Revocation& revocation) const;
  // The revocation a RevokeCertificate target names (reason and time unset).
  absl::StatusOr<v1::Revocation> RevocationFor(const v1::RevokeCertificateRequest& request,
                                               std::vector<std::string>* warnings) const;
  // Roots' and issuers' certificates of `snapshot` into certificates_.
  // Only the roots and issuers `only` puts, unless null.
  void LearnSnapshot(const trust::TrustSnapshot& snapshot,
                     const std::vector<v1::TrustChange>* only);

  // Upgrades of DER-only revocations: the index listener queues the learned
  // hashes that are DER-only revocations; the worker commits the upgrades.
  void OnCertificatesLearned(const std::vector<std::string>& learned)
      ABSL_LOCKS_EXCLUDED(upgrade_mu_);
  void RunUpgrades() ABSL_LOCKS_EXCLUDED(upgrade_mu_, mu_);
  void Upgrade(const std::string& sha256_hex) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<Wait> ParseWait(const v1::MutationOptions* options) const;
  void Count(const std::string& operation, const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(stats_mu_);
  // A refused admin call: counted, logged and audited (who, what, why);
  // returns `status`.
  absl::Status Refuse(const Caller& caller, const Plan& plan, absl::Status status)
      ABSL_LOCKS_EXCLUDED(stats_mu_, checkpoint_mu_);
  void MaybeCheckpoint(bool force) ABSL_LOCKS_EXCLUDED(checkpoint_mu_);

  const Options options_;
  trust::SnapshotHolder* const holder_;
  NodeRegistry* const nodes_;
  UpdateLog updates_;

  // Thread-safe itself; commits happen under mu_, reads (audit) need not.
  const std::unique_ptr<Store> store_;

  // Serializes mutations: admission and CAS are against the state they
  // commit over. Reads take holder_->Get() instead, which is swapped right
  // after each commit.
  mutable absl::Mutex mu_;
  std::shared_ptr<const trust::TrustSnapshot> current_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex stats_mu_;
  std::map<std::pair<std::string, std::string>, uint64_t> mutation_counts_
      ABSL_GUARDED_BY(stats_mu_);
  uint64_t audit_failures_ ABSL_GUARDED_BY(stats_mu_) = 0;

  // Serializes checkpoints; taken after a commit, never under mu_.
  absl::Mutex checkpoint_mu_;

  // Thread-safe itself; its listener only queues (upgrade_mu_).
  CertificateIndex certificates_;

  mutable absl::Mutex upgrade_mu_ ABSL_ACQUIRED_AFTER(mu_);
  // DER hashes whose DER-only revocation awaits its upgrade.
  std::deque<std::string> upgrade_queue_ ABSL_GUARDED_BY(upgrade_mu_);
  // The DER-only revocations of revision der_only_revision_.
  uint64_t der_only_revision_ ABSL_GUARDED_BY(upgrade_mu_) = 0;
  absl::flat_hash_set<std::string> der_only_ ABSL_GUARDED_BY(upgrade_mu_);
  uint64_t upgraded_ ABSL_GUARDED_BY(upgrade_mu_) = 0;
  bool stop_upgrades_ ABSL_GUARDED_BY(upgrade_mu_) = false;
  std::thread upgrader_;
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CONTROL_PLANE_H_
