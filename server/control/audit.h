// Audit records of trust mutations: what changed, in words an operator can
// read, without key material.
//
// Certificates are summarised by subject and SHA-256, never by their PEM;
// lists are cut after a few entries. The record's revision is set by the
// store when it commits, its actor and time by the control plane.
//
//   v1::AuditRecord record = control::DescribeChange(change, *current);
//   // record.operation() == "root.add", record.object() == "contoso-root",
//   // record.after() == "trust_domain=contoso.test purposes=mtls certificates=[...]"
#ifndef TRUSTFABRIC_SERVER_CONTROL_AUDIT_H_
#define TRUSTFABRIC_SERVER_CONTROL_AUDIT_H_

#include <string>

#include "absl/strings/string_view.h"
#include "common/trust/snapshot.h"
#include "trustfabric/v1/control.pb.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::control {

// Longest before/after summary; longer ones end in "...".
inline constexpr size_t kMaxSummaryBytes = 4096;

// "root.add", "root.remove", "issuer.add", "issuer.remove", "peer.put",
// "peer.remove", "revocation.add", "revocation.remove"; "" when no change
// is set.
std::string OperationName(const v1::TrustChange& change);

// The key of the object a change touches.
std::string ObjectKey(const v1::TrustChange& change);

// "CN=...,O=... sha256=<hex>" for each certificate of `pem`, comma
// separated in brackets; the PEM's own SHA-256 when it does not parse.
std::string SummarizeCertificates(absl::string_view pem);

std::string Summarize(const v1::RootAuthority& root);
std::string Summarize(const v1::TokenIssuer& issuer);
std::string Summarize(const v1::FederationPeer& peer);
std::string Summarize(const v1::Revocation& revocation);

// The record of `change` applied to `before`: operation, object, and the
// object's summary before (empty when it did not exist) and after (empty
// for a removal). Actor, time and revision are left unset.
v1::AuditRecord DescribeChange(const v1::TrustChange& change, const trust::TrustSnapshot& before);

}  // namespace trustfabric::control

#endif  // TRUSTFABRIC_SERVER_CONTROL_AUDIT_H_
