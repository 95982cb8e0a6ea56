// Minting high-trust add-in tokens, as the add-in TokenHelper does: an
// application signs with the private key of its certificate.
//
//   TF_ASSIGN_OR_RETURN(token::SigningCredentials creds,
//                       token::SigningCredentials::FromPkcs12(pfx_bytes, "password"));
//   token::MintOptions opts;
//   opts.issuer_id = "11111111-1111-1111-1111-111111111111";
//   opts.client_id = opts.issuer_id;          // per-application issuer
//   opts.realm = "22222222-2222-2222-2222-222222222222";
//   opts.host = "fe1.contoso.test";
//   TF_ASSIGN_OR_RETURN(std::string app_only, token::MintAppOnlyToken(opts, creds));
//   token::UserClaims alice;
//   alice.upn = "alice@contoso.test";
//   TF_ASSIGN_OR_RETURN(std::string user_token, token::MintUserToken(opts, creds, alice));
//
// Tokens follow common/token/claims.h; every input is validated so a minted
// token is one the verifier can accept when the issuer is registered.
#ifndef TRUSTFABRIC_COMMON_TOKEN_MINT_H_
#define TRUSTFABRIC_COMMON_TOKEN_MINT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/private_key.h"
#include "common/token/claims.h"
#include "common/token/jws.h"

namespace trustfabric::token {

// A signing key with its certificate (the certificate names the key in the
// token header, x5t / x5t#S256). The algorithm follows from the key:
// RSA → RS256, P-256 → ES256, Ed25519 → EdDSA. Copies share the key.
class SigningCredentials {
 public:
  // INVALID_ARGUMENT when the key does not belong to the certificate, or the
  // key has no JWS algorithm (e.g. P-384).
  static absl::StatusOr<SigningCredentials> Create(pki::PrivateKey key,
                                                   pki::Certificate certificate);
  // `cert_pem` may be a chain; the certificate that carries the key is used.
  // `passphrase` decrypts an encrypted PKCS#8 key.
  static absl::StatusOr<SigningCredentials> FromPem(absl::string_view key_pem,
                                                    absl::string_view cert_pem,
                                                    absl::string_view passphrase = "");
  // A PKCS#12 (.pfx) file and its password.
  static absl::StatusOr<SigningCredentials> FromPkcs12(absl::string_view der,
                                                       absl::string_view password);

  JwsAlgorithm algorithm() const { return algorithm_; }
  const pki::PrivateKey& key() const { return key_; }
  const pki::Certificate& certificate() const { return certificate_; }

 private:
  SigningCredentials(pki::PrivateKey key, pki::Certificate certificate, JwsAlgorithm algorithm)
      : key_(std::move(key)), certificate_(std::move(certificate)), algorithm_(algorithm) {}

  pki::PrivateKey key_;
  pki::Certificate certificate_;
  JwsAlgorithm algorithm_;
};

// Longest lifetime Mint* accepts; the verifier's default maximum is 12 h.
inline constexpr absl::Duration kMaxMintLifetime = absl::Hours(24);

struct MintOptions {
  // Issuer GUID of the registered issuer (lower case). For a per-application
  // issuer it equals client_id; for a trust broker it is the broker's GUID.
  std::string issuer_id;
  // The application's client id (lower-case GUID).
  std::string client_id;
  // The realm of issuer, application and audience (lower-case GUID).
  std::string realm;
  // Audience "<principal>/<host>@<realm>".
  std::string principal = kSharePointPrincipal;
  std::string host;
  // TokenHelper's HighTrustAccessTokenLifetime.
  absl::Duration lifetime = absl::Hours(12);
  // nbf; InfinitePast means absl::Now(). Truncated to whole seconds.
  absl::Time now = absl::InfinitePast();
  // Header parameters naming the signing certificate.
  bool with_x5t = true;
  bool with_x5t_s256 = false;
};

// An actor token: signed, nameid = client id, trustedfordelegation "true" or
// "false". INVALID_ARGUMENT naming the option when an id is not a lower-case
// GUID, the host is malformed, or the lifetime is not in (0, 24 h].
absl::StatusOr<std::string> MintActorToken(const MintOptions& options,
                                           const SigningCredentials& credentials,
                                           bool trusted_for_delegation);

// An app-only token: an actor token that is not trusted for delegation.
absl::StatusOr<std::string> MintAppOnlyToken(const MintOptions& options,
                                             const SigningCredentials& credentials);

// A user+app token: an actor token trusted for delegation wrapped in an outer
// token ("iss" = the actor's nameid) carrying `user`. The outer token is
// unsigned ("alg":"none", as SharePoint issues it) unless `sign_outer`.
// INVALID_ARGUMENT also when `user` names no user or a value is malformed.
absl::StatusOr<std::string> MintUserToken(const MintOptions& options,
                                          const SigningCredentials& credentials,
                                          const UserClaims& user, bool sign_outer = false);

}  // namespace trustfabric::token

#endif  // TRUSTFABRIC_COMMON_TOKEN_MINT_H_
