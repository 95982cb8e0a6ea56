#include "common/token/mint.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status/status.h"
#include "common/trust/validation.h"

namespace trustfabric::token {
namespace {

absl::Status CheckGuid(absl::string_view field, absl::string_view value) {
  if (!trust::IsLowerCaseGuid(value)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": must be a lower-case guid"));
  }
  return absl::OkStatus();
}

struct Checked {
  Audience audience;
  int64_t nbf;
  int64_t exp;
};

absl::StatusOr<Checked> CheckOptions(const MintOptions& o) {
  TF_RETURN_IF_ERROR(CheckGuid("issuer_id", o.issuer_id));
  TF_RETURN_IF_ERROR(CheckGuid("client_id", o.client_id));
  TF_RETURN_IF_ERROR(CheckGuid("realm", o.realm));
  Checked c;
  absl::StatusOr<Audience> aud =
      ParseAudience(absl::StrCat(o.principal, "/", o.host, "@", o.realm));
  if (!aud.ok()) return Annotate(aud.status(), "audience");
  c.audience = *std::move(aud);
  if (o.lifetime <= absl::ZeroDuration() || o.lifetime > kMaxMintLifetime) {
    return absl::InvalidArgumentError("lifetime: must be more than 0 and at most 24h");
  }
  absl::Time now = o.now == absl::InfinitePast() ? absl::Now() : o.now;
  c.nbf = absl::ToUnixSeconds(now);
  c.exp = c.nbf + absl::ToInt64Seconds(o.lifetime);
  if (c.nbf < 0 || c.exp > kMaxTimeSeconds) {
    return absl::InvalidArgumentError("now: out of range");
  }
  return c;
}

// Common claims of actor and outer tokens, in TokenHelper's order.
Json BaseClaims(const Checked& c, const std::string& issuer) {
  Json payload = Json::MakeObject();
  payload.Set(kClaimAudience, Json::String(c.audience.ToString()));
  payload.Set(kClaimIssuer, Json::String(issuer));
  payload.Set(kClaimNotBefore, Json::Integer(c.nbf));
  payload.Set(kClaimExpires, Json::Integer(c.exp));
  return payload;
}

absl::StatusOr<std::string> Sign(const Json& payload, const SigningCredentials& creds,
                                 const MintOptions& o) {
  Json header =
      MakeTokenHeader(creds.algorithm(), &creds.certificate(), o.with_x5t, o.with_x5t_s256);
  return SignCompactJws(header, payload, creds.key().get());
}

}  // namespace

absl::StatusOr<SigningCredentials> SigningCredentials::Create(pki::PrivateKey key,
                                                              pki::Certificate certificate) {
  if (!key.Matches(certificate)) {
    return absl::InvalidArgumentError("signing key does not belong to the certificate");
  }
  std::optional<JwsAlgorithm> alg = AlgorithmForKey(key.get());
  if (!alg.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("signing key: ", pki::KeyAlgorithmName(key.algorithm()),
                     " keys cannot sign tokens (want rsa, ec p-256 or ed25519)"));
  }
  return SigningCredentials(std::move(key), std::move(certificate), *alg);
}

absl::StatusOr<SigningCredentials> SigningCredentials::FromPem(absl::string_view key_pem,
                                                               absl::string_view cert_pem,
                                                               absl::string_view passphrase) {
  absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::FromPem(key_pem, passphrase);
  if (!key.ok()) return Annotate(key.status(), "signing key");
  absl::StatusOr<std::vector<pki::Certificate>> certs = pki::ParsePemBundle(cert_pem);
  if (!certs.ok()) return Annotate(certs.status(), "signing certificate");
  for (pki::Certificate& cert : *certs) {
    if (key->Matches(cert)) return Create(*std::move(key), std::move(cert));
  }
  return absl::InvalidArgumentError("signing key does not belong to the certificate");
}

absl::StatusOr<SigningCredentials> SigningCredentials::FromPkcs12(absl::string_view der,
                                                                  absl::string_view password) {
  absl::StatusOr<pki::Pkcs12Contents> p12 = pki::ParsePkcs12(der, password);
  if (!p12.ok()) return Annotate(p12.status(), "pkcs#12");
  return Create(std::move(p12->key), std::move(p12->certificate));
}

absl::StatusOr<std::string> MintActorToken(const MintOptions& options,
                                           const SigningCredentials& credentials,
                                           bool trusted_for_delegation) {
  TF_ASSIGN_OR_RETURN(Checked c, CheckOptions(options));
  Json payload = BaseClaims(c, absl::StrCat(options.issuer_id, "@", options.realm));
  payload.Set(kClaimNameId, Json::String(absl::StrCat(options.client_id, "@", options.realm)));
  payload.Set(kClaimTrustedForDelegation, Json::String(trusted_for_delegation ? "true" : "false"));
  return Sign(payload, credentials, options);
}

absl::StatusOr<std::string> MintAppOnlyToken(const MintOptions& options,
                                             const SigningCredentials& credentials) {
  return MintActorToken(options, credentials, /*trusted_for_delegation=*/false);
}

absl::StatusOr<std::string> MintUserToken(const MintOptions& options,
                                          const SigningCredentials& credentials,
                                          const UserClaims& user, bool sign_outer) {
  TF_ASSIGN_OR_RETURN(Checked c, CheckOptions(options));
  TF_ASSIGN_OR_RETURN(std::string actor,
                      MintActorToken(options, credentials, /*trusted_for_delegation=*/true));
  Json payload = BaseClaims(c, absl::StrCat(options.client_id, "@", options.realm));
  const std::pair<const char*, const std::string*> user_claims[] = {
      {kClaimNameId, &user.name_id},
      {kClaimNameIdIssuer, &user.name_id_issuer},
      {kClaimUpn, &user.upn},
      {kClaimSmtp, &user.smtp}};
  for (const auto& [claim, value] : user_claims) {
    if (value->empty()) continue;
    if (!IsValidUtf8(*value)) {
      return absl::InvalidArgumentError(absl::StrCat("user: ", claim, " is not valid utf-8"));
    }
    payload.Set(claim, Json::String(*value));
  }
  // The same rules the verifier applies, so a minted token is acceptable.
  absl::StatusOr<UserClaims> checked = ParseUserClaims(payload);
  if (!checked.ok()) return Annotate(checked.status(), "user");
  payload.Set(kClaimActorToken, Json::String(std::move(actor)));
  if (sign_outer) return Sign(payload, credentials, options);
  return SignCompactJws(MakeTokenHeader(JwsAlgorithm::kNone, nullptr, false, false), payload,
                        nullptr);
}

}  // namespace trustfabric::token
