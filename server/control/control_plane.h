// ControlPlane: the domain logic of the admin API (DESIGN.md §6), free of
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
//      have its chain revoked unless forced (FAILED_PRECONDITION naming them)
//   -> trust::ApplyChanges, then TrustSnapshot::Create (structural rules)
//   -> Store::Commit with the audit record (durable from here on)
//   -> swap into the holder, publish to the update log (watchers).
// Then, outside the lock, the optional propagation wait. On any error
// before the commit nothing is stored.
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
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"
#include "server/control/node_registry.h"
#include "server/control/store.h"
#include "server/control/time_util.h"
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
  };

  // Loads the store (seeding it when empty) and swaps its state into
  // `holder`. `holder` and `nodes` must outlive the control plane, and the
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
  // The target is a PEM (its subject is recorded) or a SHA-256 (hex; upper
  // case and ':' separators accepted).
  absl::StatusOr<v1::MutationResponse> RevokeCertificate(
      const Caller& caller, const v1::RevokeCertificateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<v1::MutationResponse> UnrevokeCertificate(
      const Caller& caller, const v1::UnrevokeCertificateRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Reads, of the current snapshot.
  v1::ListRootAuthoritiesResponse ListRootAuthorities() const;
  v1::ListTokenIssuersResponse ListTokenIssuers() const;
  v1::ListFederationPeersResponse ListFederationPeers() const;
  v1::TrustSnapshot GetSnapshot() const;
  v1::GetPropagationStatusResponse GetPropagationStatus() const;
  // limit: default 100, at most 10,000 (INVALID_ARGUMENT beyond).
  absl::StatusOr<v1::GetAuditLogResponse> GetAuditLog(const v1::GetAuditLogRequest& request) const;

  std::shared_ptr<const trust::TrustSnapshot> current() const;
  uint64_t revision() const;
  UpdateLog& updates() { return updates_; }
  const NodeRegistry& nodes() const { return *nodes_; }

  // Mutation attempts since start by (operation, result), where result is
  // "ok" or the status code name (e.g. "aborted"), for metrics.
  std::map<std::pair<std::string, std::string>, uint64_t> MutationCounts() const
      ABSL_LOCKS_EXCLUDED(stats_mu_);

 private:
  // A mutation as the pipeline sees it.
  struct Plan {
    std::string operation;  // "root.add", ...
    v1::TrustChange change;
    const v1::MutationOptions* options = nullptr;
    bool force = false;
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
  absl::StatusOr<Wait> ParseWait(const v1::MutationOptions* options) const;
  void Count(const std::string& operation, const absl::Status& status)
      ABSL_LOCKS_EXCLUDED(stats_mu_);

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
};

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_CONTROL_PLANE_H_
