// Structural rules of the trust state (docs/design.md §3), one object at a time.
//
// These rules hold for every snapshot whatever its history: TrustSnapshot::
// Create applies them to every object, and the control plane's admission
// check applies them to the object of a mutation before anything else.
// Messages are relative to the object ("certificates_pem: block 1: ...");
// callers prefix the object's position or name with Annotate.
//
//   TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> certs,
//                       trust::ValidateRoot(root));
//   TF_RETURN_IF_ERROR(Annotate(trust::ValidatePeer(peer, "contoso.test"),
//                               "peers[0] (fabrikam.test)"));
#ifndef TRUSTFABRIC_COMMON_TRUST_VALIDATION_H_
#define TRUSTFABRIC_COMMON_TRUST_VALIDATION_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/pki/certificate.h"
#include "common/trust/snapshot.h"
#include "google/protobuf/descriptor.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::trust {

// Bounds that keep every part of a snapshot finite. A snapshot of 10,000
// issuers and 1,000 roots is well inside them.
inline constexpr int kMaxRoots = 20000;
inline constexpr int kMaxIssuers = 20000;
inline constexpr int kMaxPeers = 20000;
inline constexpr int kMaxRevocations = 20000;
inline constexpr size_t kMaxSnapshotBytes = size_t{64} << 20;
inline constexpr int kMaxCertificatesPerRoot = 100;
inline constexpr int kMaxSigningCertificates = 16;
inline constexpr int kMaxBrokerClientIds = 20000;
inline constexpr int kMaxPeerRootNames = 64;
inline constexpr int kMaxPeerEndpoints = 64;
inline constexpr int kMaxAllowedServerNames = 1024;
// Revocation reason and subject.
inline constexpr size_t kMaxTextBytes = 1024;

// Object names (roots, issuers): 1..128 characters of [a-z0-9._-].
bool IsValidObjectName(absl::string_view name);
// A lower-case GUID: 8-4-4-4-12 hex digits, e.g.
// "3f2504e0-4f89-11d3-9a0c-0305e82c3301".
bool IsLowerCaseGuid(absl::string_view text);
// 64 lower-case hex characters (a SHA-256 fingerprint).
bool IsSha256Hex(absl::string_view text);
// "host:port" or "[v6]:port" with a port in 1..65535 (no leading zeros). The
// host is an IPv4 address, a bracketed IPv6 address, or a lower-case host
// name (labels of [a-z0-9-], one label allowed, e.g. "localhost").
bool IsValidEndpointAddress(absl::string_view address);

// Quotes untrusted text for a message: escaped and cut at 64 bytes.
std::string QuoteForMessage(absl::string_view text);
// The name people see for `value` of the proto enum `type`, derived from the
// generated descriptor so that a new enum value is named without a code
// change: the value's name in the .proto, lower case, without `strip_prefix`,
// each '_' replaced by `separator`; "<unknown_noun> <value>" for a number
// `type` does not define (a newer peer's value, or garbage).
//
//   ProtoEnumName(*v1::Purpose_descriptor(), v1::TOKEN_SIGNING, "", '-', "purpose")
//       // "token-signing"
//   ProtoEnumName(*v1::RevocationKind_descriptor(), 7, "REVOCATION_", '_', "kind")
//       // "kind 7"
std::string ProtoEnumName(const google::protobuf::EnumDescriptor& type, int value,
                          absl::string_view strip_prefix, char separator,
                          absl::string_view unknown_noun);

// Enum names for people, in messages, audit records and tfctl's listings
// alike, spelled as tfctl's flags take them (lower case, hyphens):
// "mtls", "token-signing", "purpose-unspecified", or "purpose <number>".
std::string PurposeName(int purpose);
// "rs256", "es256", "eddsa", "signing-algorithm-unspecified", or
// "algorithm <number>".
std::string AlgorithmName(int algorithm);

// Checks a root authority and returns its parsed certificates, in order.
// INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<std::vector<pki::Certificate>> ValidateRoot(const v1::RootAuthority& root);

// Checks a token issuer of a snapshot whose realm is `realm` and returns its
// index entry. INVALID_ARGUMENT naming the field otherwise.
absl::StatusOr<IssuerEntry> ValidateIssuer(const v1::TokenIssuer& issuer, absl::string_view realm);

// Checks a federation peer of the snapshot of `local_trust_domain`. Whether
// its roots exist is not a structural question (see PeerEntry::inert_reason).
absl::Status ValidatePeer(const v1::FederationPeer& peer, absl::string_view local_trust_domain);

// Checks a revocation by its kind: DER_ONLY needs sha256_hex, CERTIFICATE
// tbs_sha256_hex, KEY spki_sha256_hex (each 64 lower-case hex),
// ISSUER_SERIAL issuer_spki_sha256_hex and a canonical serial_hex (see
// pki::CanonicalSerialHex). The fields of other kinds must be empty, except
// sha256_hex, which other kinds may carry for listings (well-formed). An
// unknown kind is refused ("kind: 7 is not a known revocation kind"), as
// are a reason or subject over kMaxTextBytes. INVALID_ARGUMENT naming the
// field.
absl::Status ValidateRevocation(const v1::Revocation& revocation);

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_VALIDATION_H_
