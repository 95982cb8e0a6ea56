// What the admin commands print: aligned tables for people, JSON for
// scripts (protobuf's JSON mapping, field names as in the .proto files),
// and the snapshot file encodings that `tfctl token verify --snapshot`
// reads.
//
//   std::cout << tfctl::FormatRoots(roots);        // a table
//   std::cout << tfctl::ProtoJson(roots) << "\n";  // one JSON object
//
//   revision 4
//   NAME           TRUST DOMAIN   PURPOSES  CERTS  SUBJECT                  NOT AFTER
//   contoso-root   contoso.test   mtls      1      CN=contoso.test Root CA  2036-11-24T09:23:25Z
//
// Certificate PEM is never printed in tables (subjects and expiry are);
// JSON carries the objects whole, as the control plane returned them.
#ifndef TRUSTFABRIC_CLIENT_TFCTL_ADMIN_OUTPUT_H_
#define TRUSTFABRIC_CLIENT_TFCTL_ADMIN_OUTPUT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::tfctl {

// Columns separated by two spaces, each as wide as its widest cell; the
// last column is not padded. An empty cell prints as "-".
class Table {
 public:
  explicit Table(std::vector<std::string> headers);
  // REQUIRES: cells.size() == number of headers.
  void AddRow(std::vector<std::string> cells);
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;  // headers first
};

// Protobuf JSON with proto field names and default values printed (so
// `"enabled": false` is visible). One line unless `pretty`. 64-bit integers
// are JSON strings, as the protobuf JSON mapping prescribes.
std::string ProtoJson(const google::protobuf::Message& message, bool pretty = false);

// "revision 7", with a wait "revision 7 (applied by 2 of 3 connected nodes)".
std::string FormatMutation(const v1::MutationResponse& response, bool waited);

std::string FormatRoots(const v1::ListRootAuthoritiesResponse& response);
std::string FormatIssuers(const v1::ListTokenIssuersResponse& response);
std::string FormatPeers(const v1::ListFederationPeersResponse& response);

// Revision, domain, realm, creation time and the objects by kind.
std::string FormatSnapshotSummary(const v1::TrustSnapshot& snapshot);

// One row per revocation: key (what `unrevoke` takes), kind ("der-only
// (weak)" for DER-only ones), subject, reason, revocation time, and the DER
// hash it was requested by or resolved from; then a warning line when some
// are der-only:
//   revision 9  revocations 2 (1 der-only)
//   KEY                 KIND             SUBJECT  REASON  REVOKED  DER SHA-256
//   certificate:3f2a..  certificate      CN=...   ...     ...      ab12...
//   9c41...             der-only (weak)  -        ...     ...      9c41...
//   warning: 1 der-only revocation: a re-encoded copy of the certificate is not refused; ...
std::string FormatRevocations(const v1::ListRevocationsResponse& response);

// One row per node: node, role, applied revision, lag (current - applied),
// connected, last seen (age at `now`), last NACK and reason, identity
// expiry, anchoring root; a warning line when DER-only revocations exist.
std::string FormatStatus(const v1::GetPropagationStatusResponse& response, absl::Time now);
// {"revision": "...", "nodes": [{...NodeStatus..., "lag": "..."}]}.
std::string StatusJson(const v1::GetPropagationStatusResponse& response);

// One row per record: revision, time, actor, operation, object and the
// change ("before -> after"), or for a refused call "refused <code>: <why>".
std::string FormatAudit(const v1::GetAuditLogResponse& response);

// The lag of a node at `applied` when the store is at `current` (0 when the
// node reports a newer revision, e.g. right after a failover).
uint64_t Lag(uint64_t current, uint64_t applied);

// The bytes of a snapshot file named `path`: protobuf JSON for ".json",
// binary protobuf for ".pb". INVALID_ARGUMENT "--out: ..." otherwise.
absl::StatusOr<std::string> EncodeSnapshotFile(const v1::TrustSnapshot& snapshot,
                                               absl::string_view path);

}  // namespace trustfabric::tfctl

#endif  // TRUSTFABRIC_CLIENT_TFCTL_ADMIN_OUTPUT_H_
