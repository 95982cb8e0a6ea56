#include "common/token/verifier.h"

#include <openssl/x509.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/cache/clock_cache.h"
#include "common/pki/encoding.h"
#include "common/pki/verify.h"
#include "common/status/status.h"
#include "common/util/enum_names.h"
#include "trustfabric/v1/trust.pb.h"

namespace trustfabric::token {

// Per-snapshot derived state. Immutable after construction except for the
// chain results, which are guarded per certificate.
class TokenVerifier::PreparedSnapshot {
 public:
  struct Cert {
    explicit Cert(pki::Certificate c) : cert(std::move(c)) {}
    pki::Certificate cert;
    std::string sha1;    // raw, compared with x5t
    std::string sha256;  // raw, compared with x5t#S256
    std::optional<JwsAlgorithm> alg;
    absl::Status strength;
    absl::Time not_before;
    absl::Time not_after;

    // A successful chain verification holds for every time inside the
    // intersection of the chain's validity periods, because the snapshot's
    // roots and revocations never change; so one X509_verify_cert per
    // certificate and snapshot serves every token signed by it.
    mutable absl::Mutex mu;
    mutable bool chain_ok ABSL_GUARDED_BY(mu) = false;
    mutable absl::Time chain_from ABSL_GUARDED_BY(mu);
    mutable absl::Time chain_until ABSL_GUARDED_BY(mu);
  };
  using Issuer = std::vector<std::unique_ptr<Cert>>;

  PreparedSnapshot(const trust::TrustSnapshot& snapshot, uint64_t generation)
      : generation_(generation) {
    for (const trust::IssuerEntry& entry : snapshot.issuers()) {
      Issuer& certs = issuers_[entry.proto.registered_issuer_name()];
      for (const pki::Certificate& c : entry.signing_certificates) {
        auto prepared = std::make_unique<Cert>(c);
        prepared->sha1 = c.Sha1();
        prepared->sha256 = c.Sha256();
        prepared->alg = AlgorithmForKey(X509_get0_pubkey(c.get()));
        prepared->strength = CheckSigningKeyStrength(c);
        prepared->not_before = c.NotBefore();
        prepared->not_after = c.NotAfter();
        certs.push_back(std::move(prepared));
      }
    }
  }

  uint64_t generation() const { return generation_; }
  const Issuer* FindIssuer(absl::string_view registered_name) const {
    auto it = issuers_.find(registered_name);
    return it == issuers_.end() ? nullptr : &it->second;
  }

 private:
  uint64_t generation_;
  absl::flat_hash_map<std::string, Issuer> issuers_;
};

struct TokenVerifier::CacheEntry {
  std::shared_ptr<const TokenIdentity> identity;
  absl::Time valid_from;
  absl::Time valid_until;
};

// A shard's share of the cache: valid results only (a refused token is never
// cached, so junk tokens cannot displace a valid one), evicted one at a time
// by the CLOCK rule when full.
struct TokenVerifier::CacheShard {
  explicit CacheShard(size_t capacity) : results(capacity) {}
  mutable absl::Mutex mu;
  cache::ClockCache<CacheEntry> results ABSL_GUARDED_BY(mu);
};

struct TokenVerifier::Verified {
  TokenIdentity identity;
  // Every time-dependent check passed, and keeps passing, inside this window.
  absl::Time valid_from = absl::InfinitePast();
  absl::Time valid_until = absl::InfiniteFuture();

  void Narrow(absl::Time from, absl::Time until) {
    valid_from = std::max(valid_from, from);
    valid_until = std::min(valid_until, until);
  }
};

namespace {

using PreparedCert = TokenVerifier::PreparedSnapshot::Cert;
using PreparedIssuer = TokenVerifier::PreparedSnapshot::Issuer;

// The certificate of `certs` whose raw digest `digest` (Cert::sha1 for x5t,
// Cert::sha256 for x5t#S256) equals `value`; null when none does.
const PreparedCert* NamedBy(const PreparedIssuer& certs, std::string PreparedCert::*digest,
                            const std::string& value) {
  const PreparedCert* named = nullptr;
  for (const auto& c : certs) {
    if ((*c).*digest == value) named = c.get();
  }
  return named;
}

constexpr absl::string_view kTopPrefix = "token: ";
constexpr absl::string_view kActorPrefix = "token: actor token: ";
constexpr absl::string_view kRejectionLabelUrl = "trustfabric.token/rejection";

// `label` is the value-free name of the rule, carried as a payload for
// metrics (see RejectionLabel); the actor token's rules are "actor_<label>".
absl::Status Reject(absl::string_view prefix, absl::string_view label, absl::string_view reason) {
  absl::Status status = absl::UnauthenticatedError(absl::StrCat(prefix, reason));
  status.SetPayload(
      kRejectionLabelUrl,
      absl::Cord(prefix == kActorPrefix ? absl::StrCat("actor_", label) : std::string(label)));
  return status;
}

// Claim parsers report INVALID_ARGUMENT with a bare reason; a token that
// fails them is an authentication failure.
absl::Status Rejected(absl::string_view prefix, absl::string_view label,
                      const absl::Status& status) {
  return Reject(prefix, label, status.message());
}

v1::SigningAlgorithm ToProto(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::kRs256:
      return v1::RS256;
    case JwsAlgorithm::kEs256:
      return v1::ES256;
    case JwsAlgorithm::kEdDsa:
      return v1::EDDSA;
    case JwsAlgorithm::kNone:
      break;
  }
  return v1::SIGNING_ALGORITHM_UNSPECIFIED;
}

bool IsPrincipalText(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string CacheKey(absl::string_view token, uint64_t revision, uint64_t generation) {
  std::string key = pki::Sha256(token);
  char buf[16];
  std::memcpy(buf, &revision, 8);
  std::memcpy(buf + 8, &generation, 8);
  key.append(buf, sizeof(buf));
  return key;
}

// The context of one verification.
class Run {
 public:
  Run(const VerifierOptions& options, const absl::flat_hash_set<std::string>& hosts,
      const trust::TrustSnapshot& snapshot, const TokenVerifier::PreparedSnapshot& prepared,
      absl::Time now)
      : options_(options), hosts_(hosts), snapshot_(snapshot), prepared_(prepared), now_(now) {}

  struct Actor {
    const trust::IssuerEntry* issuer = nullptr;
    const PreparedIssuer* prepared = nullptr;
    const PreparedCert* cert = nullptr;
    JwsAlgorithm alg = JwsAlgorithm::kRs256;
    Audience audience;
    PrincipalName client;
    Validity validity;
    bool trusted_for_delegation = false;
  };

  // Steps 3-8 for a signed, self-standing (actor or app-only) token.
  absl::StatusOr<Actor> VerifyActor(const CompactJws& jws, const TokenHeader& header,
                                    absl::string_view prefix, absl::Time* from,
                                    absl::Time* until) const {
    Actor a;
    // 3. Issuer by registered name and realm.
    absl::StatusOr<PrincipalName> iss = ParseIssuerClaim(jws.payload);
    if (!iss.ok()) return Rejected(prefix, "iss", iss.status());
    if (iss->realm != snapshot_.realm()) {
      return Reject(prefix, "issuer_realm",
                    absl::StrCat("issuer realm ", iss->realm, " does not match"));
    }
    std::string registered = iss->ToString();
    a.issuer = snapshot_.FindIssuer(registered);
    a.prepared = prepared_.FindIssuer(registered);
    if (a.issuer == nullptr || a.prepared == nullptr) {
      return Reject(prefix, "issuer_not_registered",
                    absl::StrCat("issuer ", registered, " is not registered"));
    }
    // 4-5. Signature with one of the issuer's keys, then its certificate.
    absl::StatusOr<const PreparedCert*> cert =
        VerifySignature(jws, header, *a.issuer, *a.prepared, prefix);
    if (!cert.ok()) return cert.status();
    a.cert = *cert;
    a.alg = header.alg;
    TF_RETURN_IF_ERROR(CheckCertificate(*a.cert, prefix, from, until));
    // 6. Time.
    absl::StatusOr<Validity> validity = ParseValidity(jws.payload);
    if (!validity.ok()) return Rejected(prefix, "time_claims", validity.status());
    a.validity = *validity;
    TF_RETURN_IF_ERROR(CheckValidity(a.validity, prefix, from, until));
    // 7. Audience.
    absl::StatusOr<Audience> aud = ParseAudienceClaim(jws.payload);
    if (!aud.ok()) return Rejected(prefix, "aud", aud.status());
    TF_RETURN_IF_ERROR(CheckAudience(*aud, prefix));
    a.audience = *std::move(aud);
    // 8. Client id.
    absl::StatusOr<PrincipalName> client = ParseNameIdClaim(jws.payload);
    if (!client.ok()) return Rejected(prefix, "nameid", client.status());
    if (client->realm != snapshot_.realm()) {
      return Reject(prefix, "nameid_realm",
                    absl::StrCat("nameid realm ", client->realm, " does not match"));
    }
    if (a.issuer->proto.trust_broker()) {
      if (!a.issuer->broker_client_ids.contains(client->id)) {
        return Reject(prefix, "client_not_in_broker",
                      absl::StrCat("client id ", client->id,
                                   " is not registered with broker issuer ", registered));
      }
    } else if (client->id != a.issuer->issuer_guid) {
      return Reject(prefix, "client_not_issuer",
                    absl::StrCat("client id ", client->id, " does not match issuer ", registered));
    }
    a.client = *std::move(client);
    absl::StatusOr<bool> delegation = ParseTrustedForDelegation(jws.payload);
    if (!delegation.ok()) return Rejected(prefix, "delegation_claim", delegation.status());
    a.trusted_for_delegation = *delegation;
    return a;
  }

  // Step 4: the algorithm is the issuer's, the key one of its certificates.
  absl::StatusOr<const PreparedCert*> VerifySignature(const CompactJws& jws,
                                                      const TokenHeader& header,
                                                      const trust::IssuerEntry& issuer,
                                                      const PreparedIssuer& certs,
                                                      absl::string_view prefix) const {
    const std::string& registered = issuer.proto.registered_issuer_name();
    absl::string_view alg_name = JwsAlgorithmName(header.alg);
    if (!issuer.algorithms.contains(ToProto(header.alg))) {
      return Reject(
          prefix, "alg_not_allowed",
          absl::StrCat("header: alg ", alg_name, " is not allowed for issuer ", registered));
    }
    const PreparedCert* named = nullptr;
    if (header.x5t.has_value()) {
      named = NamedBy(certs, &PreparedCert::sha1, *header.x5t);
      if (named == nullptr) {
        return Reject(
            prefix, "x5t_unknown",
            absl::StrCat("header: x5t does not name a certificate of issuer ", registered));
      }
    }
    if (header.x5t_s256.has_value()) {
      const PreparedCert* by_sha256 = NamedBy(certs, &PreparedCert::sha256, *header.x5t_s256);
      if (by_sha256 == nullptr) {
        return Reject(
            prefix, "x5t_unknown",
            absl::StrCat("header: x5t#S256 does not name a certificate of issuer ", registered));
      }
      if (named != nullptr && named != by_sha256) {
        return Reject(prefix, "x5t_conflict",
                      "header: x5t and x5t#S256 name different certificates");
      }
      named = by_sha256;
    }
    std::vector<const PreparedCert*> candidates;
    if (named != nullptr) {
      if (named->alg != header.alg) {
        return Reject(prefix, "alg_key_mismatch",
                      absl::StrCat("header: alg ", alg_name,
                                   " does not fit the key of the named certificate"));
      }
      candidates.push_back(named);
    } else {
      for (const auto& c : certs) {
        if (c->alg == header.alg) candidates.push_back(c.get());
      }
      if (candidates.empty()) {
        return Reject(
            prefix, "no_key_for_alg",
            absl::StrCat("issuer ", registered, " has no ", alg_name, " signing certificate"));
      }
    }
    absl::Status last;
    bool any_strong = false;
    for (const PreparedCert* c : candidates) {
      if (!c->strength.ok()) {
        last = c->strength;
        continue;
      }
      any_strong = true;
      absl::Status s = VerifyJwsSignature(header.alg, X509_get0_pubkey(c->cert.get()),
                                          jws.signing_input, jws.signature);
      if (s.ok()) return c;
      last = s;
    }
    if (!any_strong) return Reject(prefix, "weak_key", last.message().substr(kTopPrefix.size()));
    if (candidates.size() == 1 && last.code() == absl::StatusCode::kUnauthenticated) {
      return Reject(prefix, "signature_invalid", last.message());
    }
    return Reject(prefix, "signature_invalid", "signature invalid");
  }

  // Step 5.
  absl::Status CheckCertificate(const PreparedCert& c, absl::string_view prefix, absl::Time* from,
                                absl::Time* until) const {
    if (now_ < c.not_before)
      return Reject(prefix, "certificate_not_yet_valid", "signing certificate is not yet valid");
    if (now_ > c.not_after)
      return Reject(prefix, "certificate_expired", "signing certificate has expired");
    std::shared_ptr<const pki::RootStore> roots = snapshot_.TokenSigningRoots();
    if (roots == nullptr)
      return Reject(prefix, "no_token_signing_root",
                    "no token-signing root authority is registered");
    // The certificate alone (issuer unknown yet): its body, key or encoding.
    if (snapshot_.revocation_index().FirstRevoked(
            std::vector<pki::RevocationFacts>{pki::RevocationFactsOf(c.cert, nullptr)})) {
      return Reject(prefix, "certificate_revoked", "signing certificate is revoked");
    }
    {
      absl::MutexLock lock(&c.mu);
      if (c.chain_ok && now_ >= c.chain_from && now_ <= c.chain_until) {
        *from = std::max(*from, c.chain_from);
        *until = std::min(*until, c.chain_until);
        return absl::OkStatus();
      }
    }
    pki::VerifyRequest req{c.cert};
    req.at = now_;
    absl::StatusOr<pki::VerifiedChain> chain = roots->Verify(req);
    if (!chain.ok()) {
      return Reject(prefix, "certificate_untrusted",
                    absl::StrCat("signing certificate does not chain to a token-signing "
                                 "root: ",
                                 chain.status().message()));
    }
    // Every certificate of the chain, each with its issuer (so issuer +
    // serial revocations of the signing certificate match here).
    if (std::optional<pki::RevokedCertificate> revoked =
            snapshot_.revocation_index().FirstRevoked(chain->chain)) {
      return Reject(prefix, "certificate_revoked",
                    revoked->index == 0
                        ? "signing certificate is revoked"
                        : "signing certificate chain includes a revoked certificate");
    }
    absl::Time chain_from = absl::InfinitePast();
    absl::Time chain_until = absl::InfiniteFuture();
    for (const pki::Certificate& link : chain->chain) {
      chain_from = std::max(chain_from, link.NotBefore());
      chain_until = std::min(chain_until, link.NotAfter());
    }
    {
      absl::MutexLock lock(&c.mu);
      c.chain_ok = true;
      c.chain_from = chain_from;
      c.chain_until = chain_until;
    }
    *from = std::max(*from, chain_from);
    *until = std::min(*until, chain_until);
    return absl::OkStatus();
  }

  // Step 6. Both edges are inclusive: a token is good from nbf - skew
  // through exp + skew.
  absl::Status CheckValidity(const Validity& v, absl::string_view prefix, absl::Time* from,
                             absl::Time* until) const {
    if (v.expires <= v.not_before) return Reject(prefix, "lifetime", "exp is not after nbf");
    if (v.expires - v.not_before > options_.max_lifetime) {
      return Reject(prefix, "lifetime",
                    absl::StrCat("lifetime exceeds the maximum of ",
                                 absl::FormatDuration(options_.max_lifetime)));
    }
    absl::Time earliest = v.not_before - options_.clock_skew;
    absl::Time latest = v.expires + options_.clock_skew;
    if (now_ < earliest) return Reject(prefix, "not_yet_valid", "not yet valid");
    if (now_ > latest) return Reject(prefix, "expired", "expired");
    *from = std::max(*from, earliest);
    *until = std::min(*until, latest);
    return absl::OkStatus();
  }

  // Step 7.
  absl::Status CheckAudience(const Audience& aud, absl::string_view prefix) const {
    if (aud.realm != snapshot_.realm()) {
      return Reject(prefix, "audience_realm",
                    absl::StrCat("audience realm ", aud.realm, " does not match"));
    }
    if (aud.principal != options_.principal) {
      return Reject(prefix, "audience_principal",
                    absl::StrCat("audience principal ", aud.principal, " is not accepted"));
    }
    if (!hosts_.contains(aud.host)) {
      return Reject(prefix, "audience_host",
                    absl::StrCat("audience host ", aud.host, " is not accepted"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<TokenVerifier::Verified> VerifyToken(absl::string_view token) const {
    absl::StatusOr<CompactJws> jws = ParseCompactJws(token, options_.limits);
    if (!jws.ok()) return Rejected(kTopPrefix, "malformed", jws.status());
    absl::StatusOr<TokenHeader> header = ParseTokenHeader(jws->header);
    if (!header.ok()) return Rejected(kTopPrefix, "header", header.status());
    bool has_actor = jws->payload.Find(kClaimActorToken) != nullptr;
    if (header->alg == JwsAlgorithm::kNone && !has_actor) {
      return Reject(kTopPrefix, "alg_none", "header: alg none is not allowed");
    }
    if (has_actor) return VerifyUserToken(*jws, *header);

    TokenVerifier::Verified out;
    absl::StatusOr<Actor> actor =
        VerifyActor(*jws, *header, kTopPrefix, &out.valid_from, &out.valid_until);
    if (!actor.ok()) return actor.status();
    FillIdentity(*actor, &out.identity);
    out.identity.kind = TokenKind::kAppOnly;
    out.identity.not_before = actor->validity.not_before;
    out.identity.expires = actor->validity.expires;
    return out;
  }

  // Step 9.
  absl::StatusOr<TokenVerifier::Verified> VerifyUserToken(const CompactJws& outer,
                                                          const TokenHeader& outer_header) const {
    bool outer_signed = outer_header.alg != JwsAlgorithm::kNone;
    // Refused before the actor token is looked at: under this policy an
    // unsigned outer token can never become acceptable.
    if (!outer_signed && options_.outer_token == OuterTokenPolicy::kSigned) {
      return Reject(kTopPrefix, "outer_unsigned",
                    "unsigned outer token is not accepted (outer token policy: signed)");
    }
    if (!outer_signed && !outer.signature.empty()) {
      return Reject(kTopPrefix, "unsigned_with_signature", "unsigned token carries a signature");
    }
    const Json* actor_claim = outer.payload.Find(kClaimActorToken);
    if (!actor_claim->is_string())
      return Reject(kTopPrefix, "actortoken", "actortoken is not a string");

    absl::StatusOr<CompactJws> actor_jws =
        ParseCompactJws(actor_claim->string_value(), options_.limits);
    if (!actor_jws.ok()) return Rejected(kActorPrefix, "malformed", actor_jws.status());
    absl::StatusOr<TokenHeader> actor_header = ParseTokenHeader(actor_jws->header);
    if (!actor_header.ok()) return Rejected(kActorPrefix, "header", actor_header.status());
    if (actor_header->alg == JwsAlgorithm::kNone) {
      return Reject(kActorPrefix, "alg_none", "header: alg none is not allowed");
    }
    if (actor_jws->payload.Find(kClaimActorToken) != nullptr) {
      return Reject(kActorPrefix, "nested_actor", "nested actortoken is not allowed");
    }
    TokenVerifier::Verified out;
    absl::StatusOr<Actor> actor =
        VerifyActor(*actor_jws, *actor_header, kActorPrefix, &out.valid_from, &out.valid_until);
    if (!actor.ok()) return actor.status();

    // The outer token rules.
    const std::string& registered = actor->issuer->proto.registered_issuer_name();
    const PreparedCert* outer_cert = nullptr;
    if (outer_signed) {
      absl::StatusOr<const PreparedCert*> cert =
          VerifySignature(outer, outer_header, *actor->issuer, *actor->prepared, kTopPrefix);
      if (!cert.ok()) return cert.status();
      outer_cert = *cert;
      TF_RETURN_IF_ERROR(
          CheckCertificate(*outer_cert, kTopPrefix, &out.valid_from, &out.valid_until));
    }
    if (!actor->trusted_for_delegation) {
      return Reject(kTopPrefix, "delegation_not_trusted",
                    outer_signed ? "user token requires an actor trusted for delegation"
                                 : "unsigned user token requires an actor trusted for "
                                   "delegation");
    }
    if (!actor->issuer->proto.allow_user_delegation()) {
      return Reject(kTopPrefix, "delegation_not_allowed",
                    absl::StrCat("issuer ", registered, " does not allow user delegation"));
    }
    absl::StatusOr<PrincipalName> iss = ParseIssuerClaim(outer.payload);
    if (!iss.ok()) return Rejected(kTopPrefix, "iss", iss.status());
    if (iss->ToString() != actor->client.ToString()) {
      return Reject(kTopPrefix, "outer_iss_mismatch",
                    "iss does not match the actor token's nameid");
    }
    absl::StatusOr<Audience> aud = ParseAudienceClaim(outer.payload);
    if (!aud.ok()) return Rejected(kTopPrefix, "aud", aud.status());
    if (aud->ToString() != actor->audience.ToString()) {
      return Reject(kTopPrefix, "outer_aud_mismatch", "aud does not match the actor token's aud");
    }
    absl::StatusOr<Validity> validity = ParseValidity(outer.payload);
    if (!validity.ok()) return Rejected(kTopPrefix, "time_claims", validity.status());
    TF_RETURN_IF_ERROR(CheckValidity(*validity, kTopPrefix, &out.valid_from, &out.valid_until));
    absl::StatusOr<UserClaims> user = ParseUserClaims(outer.payload);
    if (!user.ok()) return Rejected(kTopPrefix, "user_claims", user.status());

    FillIdentity(*actor, &out.identity);
    out.identity.kind = TokenKind::kUserAndApp;
    out.identity.user = *std::move(user);
    out.identity.outer_signed = outer_signed;
    out.identity.not_before = std::max(actor->validity.not_before, validity->not_before);
    out.identity.expires = std::min(actor->validity.expires, validity->expires);
    return out;
  }

  void FillIdentity(const Actor& a, TokenIdentity* id) const {
    id->issuer = a.issuer->proto.registered_issuer_name();
    id->issuer_name = a.issuer->proto.name();
    id->trust_broker = a.issuer->proto.trust_broker();
    id->client_id = a.client.id;
    id->realm = snapshot_.realm();
    id->audience = a.audience.ToString();
    id->host = a.audience.host;
    id->trusted_for_delegation = a.trusted_for_delegation;
    id->algorithm = a.alg;
    id->signing_certificate_sha256 = a.cert->cert.Sha256Hex();
  }

 private:
  const VerifierOptions& options_;
  const absl::flat_hash_set<std::string>& hosts_;
  const trust::TrustSnapshot& snapshot_;
  const TokenVerifier::PreparedSnapshot& prepared_;
  const absl::Time now_;
};

}  // namespace

constexpr util::EnumName<TokenKind> kTokenKindNames[] = {{TokenKind::kAppOnly, "app-only"},
                                                         {TokenKind::kUserAndApp, "user+app"}};

absl::string_view TokenKindName(TokenKind kind) {
  return util::NameOf(kTokenKindNames, kind, "app-only");
}

constexpr util::EnumName<OuterTokenPolicy> kOuterTokenPolicyNames[] = {
    {OuterTokenPolicy::kSigned, "signed"},
    {OuterTokenPolicy::kUnsignedAllowed, "unsigned_allowed"}};

absl::string_view OuterTokenPolicyName(OuterTokenPolicy policy) {
  return util::NameOf(kOuterTokenPolicyNames, policy, "signed");
}

std::string RejectionLabel(const absl::Status& status) {
  if (status.ok()) return "ok";
  auto label = status.GetPayload(kRejectionLabelUrl);
  return label.has_value() ? std::string(*label) : "other";
}

absl::Status CheckSigningKeyStrength(const pki::Certificate& cert) {
  absl::Status s = cert.CheckKeyStrength();
  if (s.ok()) return s;
  return absl::UnauthenticatedError(absl::StrCat("token: signing key is too weak: ", s.message()));
}

absl::StatusOr<std::unique_ptr<TokenVerifier>> TokenVerifier::Create(VerifierOptions options) {
  if (!IsPrincipalText(options.principal)) {
    return absl::InvalidArgumentError("principal: must be 1..64 characters of [A-Za-z0-9._-]");
  }
  if (options.hosts.empty()) return absl::InvalidArgumentError("hosts: at least one is required");
  for (size_t i = 0; i < options.hosts.size(); ++i) {
    // The audience grammar is the authority on what a host may be.
    std::string probe =
        absl::StrCat("p/", options.hosts[i], "@00000000-0000-0000-0000-000000000000");
    if (!ParseAudience(probe).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("hosts[", i, "]: malformed host"));
    }
  }
  if (options.clock_skew < absl::ZeroDuration() || options.clock_skew > absl::Hours(1)) {
    return absl::InvalidArgumentError("clock_skew: must be between 0 and 1h");
  }
  if (options.max_lifetime <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("max_lifetime: must be positive");
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(options)));
}

TokenVerifier::TokenVerifier(VerifierOptions options)
    : options_(std::move(options)), hosts_(options_.hosts.begin(), options_.hosts.end()) {
  const size_t per_shard = (options_.cache_capacity + kCacheShards - 1) / kCacheShards;
  for (auto& shard : cache_) shard = std::make_unique<CacheShard>(per_shard);
}

TokenVerifier::~TokenVerifier() = default;

absl::Time TokenVerifier::Now() const { return options_.clock ? options_.clock() : absl::Now(); }

std::shared_ptr<const TokenVerifier::PreparedSnapshot> TokenVerifier::Prepare(
    const std::shared_ptr<const trust::TrustSnapshot>& snapshot) const {
  {
    absl::ReaderMutexLock lock(&prepared_mu_);
    for (const PreparedSlot& slot : prepared_) {
      if (slot.snapshot.lock() == snapshot) return slot.prepared;
    }
  }
  // Built outside the lock: hashing every issuer certificate is the slow
  // part, and a concurrent builder for the same snapshot only wastes work.
  auto built = std::make_shared<const PreparedSnapshot>(*snapshot, next_generation_++);
  absl::WriterMutexLock lock(&prepared_mu_);
  for (const PreparedSlot& slot : prepared_) {
    if (slot.snapshot.lock() == snapshot) return slot.prepared;
  }
  prepared_.erase(std::remove_if(prepared_.begin(), prepared_.end(),
                                 [](const PreparedSlot& s) { return s.snapshot.expired(); }),
                  prepared_.end());
  if (prepared_.size() >= kPreparedSlots) prepared_.erase(prepared_.begin());
  prepared_.push_back(PreparedSlot{snapshot, built});
  return built;
}

absl::StatusOr<TokenVerifier::Verified> TokenVerifier::VerifyUncached(
    absl::string_view token, const trust::TrustSnapshot& snapshot, const PreparedSnapshot& prepared,
    absl::Time now) const {
  Run run(options_, hosts_, snapshot, prepared, now);
  return run.VerifyToken(token);
}

absl::StatusOr<TokenIdentity> TokenVerifier::Verify(
    absl::string_view token, const std::shared_ptr<const trust::TrustSnapshot>& snapshot) const {
  if (snapshot == nullptr) return absl::FailedPreconditionError("token: no trust snapshot");
  absl::Time now = Now();
  std::shared_ptr<const PreparedSnapshot> prepared = Prepare(snapshot);
  // Oversized input is refused before it is hashed.
  if (options_.cache_capacity == 0 || token.size() > options_.limits.max_bytes) {
    absl::StatusOr<Verified> v = VerifyUncached(token, *snapshot, *prepared, now);
    if (!v.ok()) return v.status();
    return std::move(v->identity);
  }
  std::string key = CacheKey(token, snapshot->revision(), prepared->generation());
  CacheShard& shard = *cache_[static_cast<unsigned char>(key[0]) % kCacheShards];
  {
    absl::MutexLock lock(&shard.mu);
    if (const CacheEntry* hit = shard.results.Find(key)) {
      if (now >= hit->valid_from && now <= hit->valid_until) {
        hits_.fetch_add(1, std::memory_order_relaxed);
        return *hit->identity;
      }
      shard.results.Erase(key);
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<Verified> v = VerifyUncached(token, *snapshot, *prepared, now);
  if (!v.ok()) return v.status();
  CacheEntry entry{std::make_shared<const TokenIdentity>(v->identity), v->valid_from,
                   v->valid_until};
  {
    absl::MutexLock lock(&shard.mu);
    shard.results.Insert(std::move(key), std::move(entry));
  }
  return std::move(v->identity);
}

size_t TokenVerifier::CachedResults() const {
  size_t n = 0;
  for (const auto& shard : cache_) {
    absl::MutexLock lock(&shard->mu);
    n += shard->results.size();
  }
  return n;
}

}  // namespace trustfabric::token
