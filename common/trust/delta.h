// Deltas between trust snapshots: applying changes and computing them.
//
// The control plane turns each mutation into TrustChanges, applies them to
// the current snapshot and streams them as a TrustDelta; a node applies the
// delta to the revision it holds. Objects are keyed (roots and issuers by
// name, peers by trust_domain, revocations by trust::RevocationKey). Nothing here
// validates: the result goes through TrustSnapshot::Create before use.
//
//   TF_ASSIGN_OR_RETURN(v1::TrustSnapshot next,
//                       trust::ApplyDelta(current->proto(), delta));
//   TF_ASSIGN_OR_RETURN(auto snapshot, trust::TrustSnapshot::Create(next));
//
//   v1::TrustDelta d = trust::Diff(old_proto, new_proto);  // for a Watch stream
#ifndef TRUSTFABRIC_COMMON_TRUST_DELTA_H_
#define TRUSTFABRIC_COMMON_TRUST_DELTA_H_

#include <vector>

#include "absl/status/statusor.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

// Applies `changes` in order to a copy of `base`. A put inserts the object
// (appended) or replaces the one with the same key (in place); a removal of
// a key that is not present (at that point of the sequence) is NOT_FOUND,
// e.g. "changes[1]: remove_root: root authority contoso-root does not exist".
// A change with nothing set is INVALID_ARGUMENT. Revision and other
// snapshot fields are kept from `base`, except required_features, which is
// computed from the resulting content (RequiredFeatures in revocation.h).
absl::StatusOr<v1::TrustSnapshot> ApplyChanges(const v1::TrustSnapshot& base,
                                               const std::vector<v1::TrustChange>& changes);

// Applies the delta's changes. FAILED_PRECONDITION when delta.base_revision
// is not base.revision(); INVALID_ARGUMENT when delta.revision is not greater
// than it. The result carries delta.revision, delta.created_at when set, and
// delta.required_features (what the control plane requires of the result;
// TrustSnapshot::Create checks them against this node and the content).
absl::StatusOr<v1::TrustSnapshot> ApplyDelta(const v1::TrustSnapshot& base,
                                             const v1::TrustDelta& delta);

// The changes that turn `from` into `to`: removals first (issuers, peers,
// revocations, then roots, so dependents go before what they depend on),
// then puts of new or changed objects (roots first). base_revision and
// revision are those of `from` and `to`, created_at and required_features
// those of `to`.
// ApplyDelta(from, Diff(from, to)) equals `to` exactly, object order
// included: objects whose relative order changed are removed and put again.
// REQUIRES: both snapshots have the same trust_domain and realm (a delta
// cannot change them).
v1::TrustDelta Diff(const v1::TrustSnapshot& from, const v1::TrustSnapshot& to);

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_DELTA_H_
