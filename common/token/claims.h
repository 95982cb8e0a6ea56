// The high-trust add-in token profile: header and claim names, their
// strict forms, and typed parsing of each.
//
// Three token shapes (all JWS compact, header {"typ":"JWT","alg":..,"x5t":..}):
//
//   actor / app-only token, signed by a registered issuer:
//     {"aud":"<principal>/<host>@<realm>", "iss":"<issuer-guid>@<realm>",
//      "nameid":"<client-id>@<realm>", "nbf":<int>, "exp":<int>,
//      "trustedfordelegation":"true"|"false"}
//   user+app token: an outer token, unsigned ("alg":"none", as SharePoint
//   issues it) or signed by the actor's issuer, that carries the actor token
//   and the user:
//     {"aud":<same as actor>, "iss":"<client-id>@<realm>" (= actor nameid),
//      "nbf":<int>, "exp":<int>, "actortoken":"<actor token>",
//      "nameid":"<user id>", "nii":"<name id issuer>", "upn":..., "smtp":...}
//
// Parsers return INVALID_ARGUMENT with a stable reason naming the claim
// ("exp is not an integer"); the verifier prefixes "token: " and turns them
// into UNAUTHENTICATED. Values are echoed only after they passed a format
// check that limits them to a safe character set.
//
//   TF_ASSIGN_OR_RETURN(token::TokenHeader h, token::ParseTokenHeader(jws.header));
//   TF_ASSIGN_OR_RETURN(token::PrincipalName iss, token::ParseIssuerClaim(jws.payload));
#ifndef TRUSTFABRIC_COMMON_TOKEN_CLAIMS_H_
#define TRUSTFABRIC_COMMON_TOKEN_CLAIMS_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/token/json.h"
#include "common/token/jws.h"

namespace trustfabric::token {

// Header parameters.
inline constexpr char kHeaderType[] = "typ";
inline constexpr char kHeaderAlgorithm[] = "alg";
inline constexpr char kHeaderX5t[] = "x5t";
inline constexpr char kHeaderX5tS256[] = "x5t#S256";
inline constexpr char kTypeJwt[] = "JWT";

// Claims.
inline constexpr char kClaimAudience[] = "aud";
inline constexpr char kClaimIssuer[] = "iss";
inline constexpr char kClaimNameId[] = "nameid";
inline constexpr char kClaimNotBefore[] = "nbf";
inline constexpr char kClaimExpires[] = "exp";
inline constexpr char kClaimTrustedForDelegation[] = "trustedfordelegation";
inline constexpr char kClaimActorToken[] = "actortoken";
inline constexpr char kClaimNameIdIssuer[] = "nii";
inline constexpr char kClaimUpn[] = "upn";
inline constexpr char kClaimSmtp[] = "smtp";

// The SharePoint principal id, the usual audience principal of add-in tokens.
inline constexpr char kSharePointPrincipal[] = "00000003-0000-0ff1-ce00-000000000000";

// Latest nbf/exp accepted: 9999-12-31T23:59:59Z. Anything later cannot be
// an honest timestamp and would overflow absl::Time arithmetic elsewhere.
inline constexpr int64_t kMaxTimeSeconds = 253402300799;

// Longest user claim value accepted.
inline constexpr size_t kMaxUserClaimBytes = 256;

// 8-4-4-4-12 hex digits, either case. (The lower-case canonical form of
// issuer GUIDs, client ids and realms is trust::IsLowerCaseGuid.)
bool IsGuid(absl::string_view s);

// "<id>@<realm>": a registered issuer name or an application's nameid. Both
// parts are GUIDs in either case here; the verifier compares them exactly
// with lower-case registered values, so an upper-case GUID parses but never
// matches.
struct PrincipalName {
  std::string id;
  std::string realm;
  std::string ToString() const { return id + "@" + realm; }
};
absl::StatusOr<PrincipalName> ParsePrincipalName(absl::string_view text);

// "<principal>/<host>@<realm>". The principal is 1..64 of [A-Za-z0-9._-],
// the host 1..253 of [A-Za-z0-9.-] with an optional ":port", the realm a
// GUID.
struct Audience {
  std::string principal;
  std::string host;
  std::string realm;
  std::string ToString() const { return principal + "/" + host + "@" + realm; }
};
absl::StatusOr<Audience> ParseAudience(absl::string_view text);

// The protected header, checked in this order: alg (a string; exactly one of
// RS256, ES256, EdDSA, none — any other spelling of none is "alg none is not
// allowed", anything else "alg X is not supported"), typ ("JWT"), the
// parameters that would let a token carry or point at its own key (jku,
// x5u, jwk, x5c: "header: jku is not allowed"), crit (no extension is
// understood, so any crit is refused), cty (nested tokens are not part of
// the profile), then x5t / x5t#S256 (base64url of a 20 / 32-byte digest).
// Other parameters (kid, ...) are ignored.
struct TokenHeader {
  JwsAlgorithm alg = JwsAlgorithm::kNone;
  std::optional<std::string> x5t;       // raw SHA-1 of the signing certificate
  std::optional<std::string> x5t_s256;  // raw SHA-256
};
absl::StatusOr<TokenHeader> ParseTokenHeader(const Json& header);

// {"typ":"JWT","alg":<alg>} plus "x5t" and/or "x5t#S256" of `cert` when
// asked for (and cert is non-null).
Json MakeTokenHeader(JwsAlgorithm alg, const pki::Certificate* cert, bool with_x5t,
                     bool with_x5t_s256);

// Claim accessors. Each fails with "<claim> is missing", "<claim> is not a
// string" / "is not an integer", or "<claim> is malformed" / "is out of
// range".
absl::StatusOr<PrincipalName> ParseIssuerClaim(const Json& payload);
absl::StatusOr<PrincipalName> ParseNameIdClaim(const Json& payload);
absl::StatusOr<Audience> ParseAudienceClaim(const Json& payload);

// nbf and exp: required JSON integers (a float such as 1.7e9 or a string is
// refused) in [0, kMaxTimeSeconds].
struct Validity {
  absl::Time not_before;
  absl::Time expires;
};
absl::StatusOr<Validity> ParseValidity(const Json& payload);

// "trustedfordelegation": absent → false; the strings "true" / "false"
// (SharePoint's form); anything else, including JSON booleans, is refused.
absl::StatusOr<bool> ParseTrustedForDelegation(const Json& payload);

// The user of a user+app token. At least one of name_id, upn, smtp.
struct UserClaims {
  std::string name_id;         // "nameid", e.g. a SID or a PUID
  std::string name_id_issuer;  // "nii", e.g. "urn:office:idp:activedirectory"
  std::string upn;
  std::string smtp;
  friend bool operator==(const UserClaims& a, const UserClaims& b) {
    return a.name_id == b.name_id && a.name_id_issuer == b.name_id_issuer && a.upn == b.upn &&
           a.smtp == b.smtp;
  }
};
// Each present claim must be a string of 1..kMaxUserClaimBytes without
// control characters; "user token names no user" when none of nameid, upn,
// smtp is present.
absl::StatusOr<UserClaims> ParseUserClaims(const Json& payload);

}  // namespace trustfabric::token

#endif  // TRUSTFABRIC_COMMON_TOKEN_CLAIMS_H_
