// Digests and text encodings used for certificate fingerprints and tokens.
//
//   std::string fp = pki::HexEncode(pki::Sha256(cert.der()));   // 64 hex chars
//   std::string t  = pki::Base64UrlEncode(pki::Sha1(cert.der())); // JWS x5t
#ifndef TRUSTFABRIC_COMMON_PKI_ENCODING_H_
#define TRUSTFABRIC_COMMON_PKI_ENCODING_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::pki {

// Raw 32-byte SHA-256 / 20-byte SHA-1 digests.
std::string Sha256(absl::string_view data);
std::string Sha1(absl::string_view data);

// Lower-case hex.
std::string HexEncode(absl::string_view bytes);
// Accepts upper or lower case hex of even length; INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> HexDecode(absl::string_view hex);

// RFC 4648 §5 base64url without padding.
std::string Base64UrlEncode(absl::string_view bytes);
// Strict decoding: only [A-Za-z0-9_-], no padding, no whitespace, length
// mod 4 != 1, and the unused trailing bits must be zero (canonical form).
// INVALID_ARGUMENT naming the offending position otherwise.
absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text);

// Standard base64 with padding (for PEM-like output and manifests).
std::string Base64Encode(absl::string_view bytes);
// Strict standard base64 (RFC 4648 §4): [A-Za-z0-9+/], length a multiple of
// 4, padding only at the end, canonical trailing bits, no whitespace.
// INVALID_ARGUMENT naming the offending position otherwise.
absl::StatusOr<std::string> Base64Decode(absl::string_view text);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_ENCODING_H_
