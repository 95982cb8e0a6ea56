// Admission: the control plane's checks of one mutation against the current
// snapshot (docs/design.md §3), made before the change is stored.
//
// Admission rules depend on history and the current state, which is why
// nodes do not re-check them: a node only re-checks the structural rules.
// The control plane runs CheckAdmission, then ApplyChanges, then
// TrustSnapshot::Create on the result (which catches the structural rules
// of the snapshot as a whole, e.g. the object-count limits).
//
//   trust::AdmissionOptions opts;
//   opts.force = request.force();
//   opts.now = clock->Now();
//   TF_RETURN_IF_ERROR(trust::CheckAdmission(*current, change, opts));
#ifndef TRUSTFABRIC_COMMON_TRUST_ADMISSION_H_
#define TRUSTFABRIC_COMMON_TRUST_ADMISSION_H_

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

struct AdmissionOptions {
  // Remove a root authority even though issuers or peers still need it; they
  // become inert in the resulting snapshot.
  bool force = false;
  // Time at which certificate chains are checked. Required (INVALID_ARGUMENT
  // when left unset) for put_issuer and for remove_root of a token-signing
  // root; pass the control plane's clock.
  absl::Time now = absl::InfinitePast();
};

// OK when `change` may be applied to `current`. Otherwise, with messages
// naming the object:
//   any put: the structural rules of the object (INVALID_ARGUMENT);
//   put_root: a root of that name exists (ALREADY_EXISTS; roots are added
//     and removed, never replaced);
//   put_issuer: the name or the registered issuer name is taken
//     (ALREADY_EXISTS); a signing certificate neither chains (at opts.now,
//     not revoked) to a TOKEN_SIGNING root nor is itself registered as a
//     self-signed TOKEN_SIGNING root (FAILED_PRECONDITION);
//   put_peer: a named root does not exist (NOT_FOUND), belongs to another
//     trust domain or lacks purpose MTLS (FAILED_PRECONDITION); an existing
//     peer is replaced;
//   put_revocation: a revocation with the same RevocationKey exists
//     (ALREADY_EXISTS);
//   remove_*: the key does not exist (NOT_FOUND); remove_revocation names
//     a RevocationKey;
//   remove_root: issuers whose signing certificates would stop chaining, or
//     peers naming the root, still need it (FAILED_PRECONDITION listing
//     them) unless opts.force;
//   no change set: INVALID_ARGUMENT.
absl::Status CheckAdmission(const TrustSnapshot& current, const v1::TrustChange& change,
                            const AdmissionOptions& opts);

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_ADMISSION_H_
