#include "common/token/claims.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"

namespace trustfabric::token {
namespace {

absl::Status Malformed(absl::string_view claim) {
  return absl::InvalidArgumentError(absl::StrCat(claim, " is malformed"));
}

absl::StatusOr<const std::string*> StringClaim(const Json& payload, absl::string_view claim) {
  const Json* v = payload.Find(claim);
  if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(claim, " is missing"));
  if (!v->is_string()) return absl::InvalidArgumentError(absl::StrCat(claim, " is not a string"));
  return &v->string_value();
}

// The string claim `claim` as `parse` reads it; "<claim> is malformed" when
// it does not parse.
template <typename T>
absl::StatusOr<T> ParsedStringClaim(const Json& payload, absl::string_view claim,
                                    absl::StatusOr<T> (*parse)(absl::string_view)) {
  absl::StatusOr<const std::string*> text = StringClaim(payload, claim);
  if (!text.ok()) return text.status();
  absl::StatusOr<T> value = parse(**text);
  if (!value.ok()) return Malformed(claim);
  return value;
}

absl::StatusOr<absl::Time> TimeClaim(const Json& payload, absl::string_view claim) {
  const Json* v = payload.Find(claim);
  if (v == nullptr) return absl::InvalidArgumentError(absl::StrCat(claim, " is missing"));
  if (!v->is_integer()) {
    return absl::InvalidArgumentError(absl::StrCat(claim, " is not an integer"));
  }
  int64_t seconds = v->integer_value();
  if (seconds < 0 || seconds > kMaxTimeSeconds) {
    return absl::InvalidArgumentError(absl::StrCat(claim, " is out of range"));
  }
  return absl::FromUnixSeconds(seconds);
}

bool IsPrincipalChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-';
}

bool IsValidHost(absl::string_view host) {
  size_t colon = host.find(':');
  absl::string_view name = host.substr(0, colon);
  if (name.empty() || name.size() > 253) return false;
  for (char c : name) {
    if (!IsHostChar(c)) return false;
  }
  if (colon == absl::string_view::npos) return true;
  absl::string_view port = host.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<std::optional<std::string>> DigestParam(const Json& header, absl::string_view name,
                                                       size_t size) {
  const Json* v = header.Find(name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("header: ", name, " is malformed"));
  }
  absl::StatusOr<std::string> raw = pki::Base64UrlDecode(v->string_value());
  if (!raw.ok() || raw->size() != size) {
    return absl::InvalidArgumentError(absl::StrCat("header: ", name, " is malformed"));
  }
  return std::optional<std::string>(*std::move(raw));
}

}  // namespace

bool IsGuid(absl::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!absl::ascii_isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

absl::StatusOr<PrincipalName> ParsePrincipalName(absl::string_view text) {
  size_t at = text.find('@');
  if (at == absl::string_view::npos) return absl::InvalidArgumentError("missing '@'");
  absl::string_view id = text.substr(0, at);
  absl::string_view realm = text.substr(at + 1);
  if (!IsGuid(id)) return absl::InvalidArgumentError("id is not a guid");
  if (!IsGuid(realm)) return absl::InvalidArgumentError("realm is not a guid");
  return PrincipalName{std::string(id), std::string(realm)};
}

absl::StatusOr<Audience> ParseAudience(absl::string_view text) {
  size_t slash = text.find('/');
  size_t at = text.rfind('@');
  if (slash == absl::string_view::npos || at == absl::string_view::npos || at < slash) {
    return absl::InvalidArgumentError("not <principal>/<host>@<realm>");
  }
  absl::string_view principal = text.substr(0, slash);
  absl::string_view host = text.substr(slash + 1, at - slash - 1);
  absl::string_view realm = text.substr(at + 1);
  if (principal.empty() || principal.size() > 64) {
    return absl::InvalidArgumentError("principal is malformed");
  }
  for (char c : principal) {
    if (!IsPrincipalChar(c)) return absl::InvalidArgumentError("principal is malformed");
  }
  if (!IsValidHost(host)) return absl::InvalidArgumentError("host is malformed");
  if (!IsGuid(realm)) return absl::InvalidArgumentError("realm is not a guid");
  return Audience{std::string(principal), std::string(host), std::string(realm)};
}

absl::StatusOr<TokenHeader> ParseTokenHeader(const Json& header) {
  TokenHeader out;
  const Json* alg = header.Find(kHeaderAlgorithm);
  if (alg == nullptr) return absl::InvalidArgumentError("header: alg is missing");
  if (!alg->is_string()) return absl::InvalidArgumentError("header: alg is not a string");
  const std::string& name = alg->string_value();
  std::optional<JwsAlgorithm> parsed = JwsAlgorithmFromName(name);
  if (!parsed.has_value()) {
    if (absl::EqualsIgnoreCase(name, "none")) {
      return absl::InvalidArgumentError("header: alg none is not allowed");
    }
    bool printable = !name.empty() && name.size() <= 16;
    for (char c : name) printable = printable && absl::ascii_isalnum(static_cast<unsigned char>(c));
    return absl::InvalidArgumentError(printable
                                          ? absl::StrCat("header: alg ", name, " is not supported")
                                          : std::string("header: alg is not supported"));
  }
  out.alg = *parsed;

  const Json* typ = header.Find(kHeaderType);
  if (typ == nullptr) return absl::InvalidArgumentError("header: typ is missing");
  if (!typ->is_string() || typ->string_value() != kTypeJwt) {
    return absl::InvalidArgumentError("header: typ must be JWT");
  }
  for (absl::string_view forbidden : {"jku", "x5u", "jwk", "x5c"}) {
    if (header.Find(forbidden) != nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("header: ", forbidden, " is not allowed"));
    }
  }
  if (header.Find("crit") != nullptr) {
    return absl::InvalidArgumentError("header: crit is not supported");
  }
  if (header.Find("cty") != nullptr) {
    return absl::InvalidArgumentError("header: cty is not allowed");
  }
  absl::StatusOr<std::optional<std::string>> x5t = DigestParam(header, kHeaderX5t, 20);
  if (!x5t.ok()) return x5t.status();
  out.x5t = *std::move(x5t);
  absl::StatusOr<std::optional<std::string>> x5t_s256 = DigestParam(header, kHeaderX5tS256, 32);
  if (!x5t_s256.ok()) return x5t_s256.status();
  out.x5t_s256 = *std::move(x5t_s256);
  return out;
}

Json MakeTokenHeader(JwsAlgorithm alg, const pki::Certificate* cert, bool with_x5t,
                     bool with_x5t_s256) {
  Json header = Json::MakeObject();
  header.Set(kHeaderType, Json::String(kTypeJwt));
  header.Set(kHeaderAlgorithm, Json::String(std::string(JwsAlgorithmName(alg))));
  if (cert != nullptr && with_x5t) {
    header.Set(kHeaderX5t, Json::String(pki::Base64UrlEncode(cert->Sha1())));
  }
  if (cert != nullptr && with_x5t_s256) {
    header.Set(kHeaderX5tS256, Json::String(pki::Base64UrlEncode(cert->Sha256())));
  }
  return header;
}

absl::StatusOr<PrincipalName> ParseIssuerClaim(const Json& payload) {
  return ParsedStringClaim(payload, kClaimIssuer, ParsePrincipalName);
}

absl::StatusOr<PrincipalName> ParseNameIdClaim(const Json& payload) {
  return ParsedStringClaim(payload, kClaimNameId, ParsePrincipalName);
}

absl::StatusOr<Audience> ParseAudienceClaim(const Json& payload) {
  return ParsedStringClaim(payload, kClaimAudience, ParseAudience);
}

absl::StatusOr<Validity> ParseValidity(const Json& payload) {
  Validity v;
  absl::StatusOr<absl::Time> nbf = TimeClaim(payload, kClaimNotBefore);
  if (!nbf.ok()) return nbf.status();
  absl::StatusOr<absl::Time> exp = TimeClaim(payload, kClaimExpires);
  if (!exp.ok()) return exp.status();
  v.not_before = *nbf;
  v.expires = *exp;
  return v;
}

absl::StatusOr<bool> ParseTrustedForDelegation(const Json& payload) {
  const Json* v = payload.Find(kClaimTrustedForDelegation);
  if (v == nullptr) return false;
  if (v->is_string() && v->string_value() == "true") return true;
  if (v->is_string() && v->string_value() == "false") return false;
  return absl::InvalidArgumentError("trustedfordelegation is not \"true\" or \"false\"");
}

absl::StatusOr<UserClaims> ParseUserClaims(const Json& payload) {
  UserClaims user;
  struct Field {
    const char* claim;
    std::string* out;
  };
  const Field fields[] = {{kClaimNameId, &user.name_id},
                          {kClaimNameIdIssuer, &user.name_id_issuer},
                          {kClaimUpn, &user.upn},
                          {kClaimSmtp, &user.smtp}};
  for (const Field& f : fields) {
    const Json* v = payload.Find(f.claim);
    if (v == nullptr) continue;
    if (!v->is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(f.claim, " is not a string"));
    }
    const std::string& s = v->string_value();
    bool ok = !s.empty() && s.size() <= kMaxUserClaimBytes;
    for (char c : s) ok = ok && (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
    if (!ok) return Malformed(f.claim);
    *f.out = s;
  }
  if (user.name_id.empty() && user.upn.empty() && user.smtp.empty()) {
    return absl::InvalidArgumentError("user token names no user");
  }
  return user;
}

}  // namespace trustfabric::token
