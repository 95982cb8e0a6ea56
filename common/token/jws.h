// JSON Web Signature (RFC 7515) compact serialization on OpenSSL 3 EVP.
//
// Three algorithms, each bound to one key type: RS256 (RSASSA-PKCS1-v1_5
// with SHA-256, RSA keys), ES256 (ECDSA P-256 with SHA-256, signatures as
// the 64-byte R‖S of RFC 7518 §3.4) and EdDSA (Ed25519, RFC 8037). "none"
// exists only as a name so the token profile can recognise it; nothing here
// signs or verifies with it. No HMAC algorithm exists at all, so an
// RS256→HS256 confusion has no code path to reach.
//
// This layer checks form and mathematics only. Which algorithm and which key
// a token may use is decided by the caller from the issuer record
// (common/token/verifier.h), never from the header.
//
//   TF_ASSIGN_OR_RETURN(token::CompactJws jws, token::ParseCompactJws(text));
//   TF_RETURN_IF_ERROR(token::VerifyJwsSignature(token::JwsAlgorithm::kEs256,
//                                                X509_get0_pubkey(cert.get()),
//                                                jws.signing_input, jws.signature));
//
//   TF_ASSIGN_OR_RETURN(std::string compact,
//                       token::SignCompactJws(header, payload, key.get()));
#ifndef TRUSTFABRIC_COMMON_TOKEN_JWS_H_
#define TRUSTFABRIC_COMMON_TOKEN_JWS_H_

#include <cstddef>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/token/json.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace trustfabric::token {

enum class JwsAlgorithm { kNone, kRs256, kEs256, kEdDsa };

// "none", "RS256", "ES256", "EdDSA".
absl::string_view JwsAlgorithmName(JwsAlgorithm alg);
// Exact, case-sensitive match of the names above (RFC 7515 §4.1.1); "None"
// or "rs256" are not algorithms.
std::optional<JwsAlgorithm> JwsAlgorithmFromName(absl::string_view name);

// The signing algorithm a key is used with: RSA → RS256, EC P-256 → ES256,
// Ed25519 → EdDSA; nullopt for any other key (P-384, RSA-PSS, ...).
std::optional<JwsAlgorithm> AlgorithmForKey(EVP_PKEY* key);

// Largest compact JWS accepted by default. Add-in tokens are 1-4 KiB; a
// user token embeds its actor token and stays well below this.
inline constexpr size_t kDefaultMaxJwsBytes = 16 * 1024;

struct JwsLimits {
  size_t max_bytes = kDefaultMaxJwsBytes;
  JsonLimits json;
};

// A compact JWS split and decoded, not yet verified.
struct CompactJws {
  // ASCII(BASE64URL(header) '.' BASE64URL(payload)): what the signature covers.
  std::string signing_input;
  Json header;            // always an object
  Json payload;           // always an object (JWT claims set)
  std::string signature;  // raw bytes; empty for an unsigned token
};

// Splits and decodes `token` in this order, stopping at the first failure:
// size, characters (only [A-Za-z0-9_-] and '.'), exactly three segments
// with non-empty header and payload, strict base64url of each segment,
// strict JSON of header and payload, both JSON objects. INVALID_ARGUMENT
// with a stable reason naming the part, e.g.
//   "too large (20000 bytes, limit 16384)", "invalid character at offset 12",
//   "expected 3 segments, found 2", "header: base64url: ...",
//   "payload: json: duplicate key \"exp\" at offset 40",
//   "payload: not a json object".
absl::StatusOr<CompactJws> ParseCompactJws(absl::string_view token, const JwsLimits& limits = {});

// Signs `signing_input` with the private key for `alg` and returns the JWS
// signature bytes (R‖S for ES256). INVALID_ARGUMENT when alg is kNone or the
// key type does not match alg (see AlgorithmForKey); INTERNAL when OpenSSL
// fails.
absl::StatusOr<std::string> SignJwsInput(JwsAlgorithm alg, EVP_PKEY* private_key,
                                         absl::string_view signing_input);

// Verifies a JWS signature with `public_key` (a public or private key).
// UNAUTHENTICATED with a reason starting "signature invalid" when the
// signature does not verify, has the wrong length for the key, or (ES256)
// has r or s equal to 0 or not below the group order. INVALID_ARGUMENT when
// alg is kNone or the key type does not match alg. Never reads the header.
absl::Status VerifyJwsSignature(JwsAlgorithm alg, EVP_PKEY* public_key,
                                absl::string_view signing_input, absl::string_view signature);

// Serializes header and payload (both objects), signs with `private_key`
// for the algorithm named by the header's "alg", and returns the compact
// form. With "alg":"none" the key must be null and the signature segment is
// empty. INVALID_ARGUMENT when "alg" is missing or unknown, or does not fit
// the key.
absl::StatusOr<std::string> SignCompactJws(const Json& header, const Json& payload,
                                           EVP_PKEY* private_key);

// ES256 signature form conversions between the JWS 64-byte R‖S and the
// DER ECDSA-Sig-Value OpenSSL produces and consumes. INVALID_ARGUMENT when
// the input has the wrong length or form, or r or s is 0 or ≥ the P-256
// order.
absl::StatusOr<std::string> Es256RawToDer(absl::string_view raw);
absl::StatusOr<std::string> Es256DerToRaw(absl::string_view der);

}  // namespace trustfabric::token

#endif  // TRUSTFABRIC_COMMON_TOKEN_JWS_H_
