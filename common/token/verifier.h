// TokenVerifier: validates high-trust add-in access tokens against the
// current TrustSnapshot and returns who the caller is.
//
// One verifier per node (it is configured with the node's audience), shared
// by every request thread. Each call names the snapshot to verify against,
// so a removed issuer, a removed root or a new revocation takes effect on
// the very next call:
//
//   token::VerifierOptions opts;
//   opts.hosts = {"fe1.contoso.test"};
//   TF_ASSIGN_OR_RETURN(std::unique_ptr<token::TokenVerifier> verifier,
//                       token::TokenVerifier::Create(opts));
//   absl::StatusOr<token::TokenIdentity> who = verifier->Verify(bearer, holder.Get());
//   if (!who.ok()) log(who.status().message());  // "token: expired"
//
// Validation order (docs/design.md §7), stopping at the first failure:
//   1. size and characters, strict base64url, strict JSON (ParseCompactJws)
//   2. header (ParseTokenHeader: typ, no jku/x5u/jwk/x5c/crit)
//   3. issuer by registered name ("iss") and realm
//   4. signature: the header's alg must be one of the issuer's algorithms and
//      fit the key; keys are only the issuer's registered certificates
//      (x5t / x5t#S256 select among them and nothing else); the selected
//      key must be strong enough
//   5. signing certificate validity at now, chain to a TOKEN_SIGNING root,
//      revocation of every chain certificate by any kind (its signed body,
//      its key, its issuer + serial, its DER encoding)
//   6. nbf / exp (JSON integers) with clock skew, and a maximum lifetime
//   7. audience "<principal>/<host>@<realm>"
//   8. client id ("nameid"): a per-application issuer's GUID is the client
//      id; a broker must list it in broker_client_ids
//   9. user+app tokens: the outer token policy first (OuterTokenPolicy:
//      under kSigned an "alg":"none" outer token is refused before anything
//      else is checked), then steps 1-8 on the actor token, then the outer
//      token rules: signature (if signed: by the actor's issuer), delegation
//      (actor "trustedfordelegation":"true" and the issuer's
//      allow_user_delegation), iss = actor nameid, aud = actor aud, nbf/exp,
//      user claims. "alg":"none" is accepted only for such an outer token.
//
// A signed outer token (the add-in TokenHelper's signed variant, `tfctl
// token mint --sign-outer`) must satisfy everything an actor token's
// signature does, against the actor token's issuer: a header by the same
// rules (step 2); an alg the issuer allows; a key among that issuer's
// registered certificates (any of them, so a rotation in progress works;
// x5t / x5t#S256 select among them only); a strong key; a signing
// certificate valid now, chaining to a TOKEN_SIGNING root, not revoked
// (steps 4-5). So only the holder of the application's key (or of its
// trust broker's) can name a user; a captured actor token cannot be
// wrapped with another user's name, and a rewritten outer token fails its
// signature. See docs/outer-token.md for the trade-off against the add-in
// model's unsigned outer token.
//
// Every rejection is UNAUTHENTICATED (an unknown issuer too: NOT_FOUND would
// tell a caller which issuers exist) with a stable reason starting "token: "
// and naming the failed rule, e.g. "token: header: jku is not allowed",
// "token: issuer <guid>@<realm> is not registered", "token: signature
// invalid", "token: expired", "token: actor token: expired". Values are
// echoed only after a format check; key material never is.
//
// Valid results are cached (bounded, keyed by SHA-256 of the token and the
// snapshot's revision and identity), each entry only for the window in which
// every time-dependent check still holds, so a cache hit is a hash lookup
// and a newer snapshot never sees a result computed against an older one.
// Refusals are not cached, so junk tokens never displace a valid result; a
// full cache evicts one result at a time, the least recently used first
// (cache::ClockCache), never all at once.
#ifndef TRUSTFABRIC_COMMON_TOKEN_VERIFIER_H_
#define TRUSTFABRIC_COMMON_TOKEN_VERIFIER_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/time/clock.h"
#include "common/token/claims.h"
#include "common/token/jws.h"
#include "common/trust/snapshot.h"

namespace trustfabric::token {

enum class TokenKind {
  // A signed actor token presented on its own: the application acts for
  // itself.
  kAppOnly,
  // An outer token carrying a user and the actor token of the application
  // acting for that user.
  kUserAndApp,
};
// "app-only", "user+app".
absl::string_view TokenKindName(TokenKind kind);

// Who presented a valid token.
struct TokenIdentity {
  TokenKind kind = TokenKind::kAppOnly;
  // The registered issuer name "<issuer-guid>@<realm>" and its record's name.
  std::string issuer;
  std::string issuer_name;
  bool trust_broker = false;
  // The application (client id GUID) and the realm.
  std::string client_id;
  std::string realm;
  // The accepted audience and its host.
  std::string audience;
  std::string host;
  // Validity of the token (for a user+app token, the intersection of outer
  // and actor token).
  absl::Time not_before;
  absl::Time expires;
  // The actor's "trustedfordelegation".
  bool trusted_for_delegation = false;
  // Set for kUserAndApp.
  std::optional<UserClaims> user;
  // Whether the outer token of a user+app token was signed.
  bool outer_signed = false;
  JwsAlgorithm algorithm = JwsAlgorithm::kRs256;
  // SHA-256 (hex) of the certificate whose key verified the signature.
  std::string signing_certificate_sha256;
};

// Which user+app tokens are acceptable by how their outer token is protected.
enum class OuterTokenPolicy {
  // Only outer tokens signed by the actor token's issuer: nobody without the
  // application's key can choose the user a token names.
  kSigned,
  // Also "alg":"none" outer tokens, as SharePoint issues them (add-in
  // compatibility): whoever holds a valid actor token trusted for
  // delegation can wrap it with any user's name.
  kUnsignedAllowed,
};
// "signed", "unsigned_allowed".
absl::string_view OuterTokenPolicyName(OuterTokenPolicy policy);

struct VerifierOptions {
  // Audience principal this node answers to.
  std::string principal = kSharePointPrincipal;
  // Audience hosts this node answers to (e.g. its FQDN and a load-balancer
  // name); at least one. Compared exactly.
  std::vector<std::string> hosts;
  // Tolerance for clocks that disagree, applied to nbf and exp: a token is
  // accepted from nbf - skew through exp + skew inclusive.
  absl::Duration clock_skew = absl::Minutes(5);
  // Longest exp - nbf accepted.
  absl::Duration max_lifetime = absl::Hours(12);
  // An unsigned outer token under kSigned is refused with UNAUTHENTICATED
  // "token: unsigned outer token is not accepted (outer token policy:
  // signed)", rejection label "outer_unsigned".
  OuterTokenPolicy outer_token = OuterTokenPolicy::kSigned;
  // Time source; null means absl::Now.
  Clock clock;
  // Valid results remembered; 0 disables the cache.
  size_t cache_capacity = 10000;
  JwsLimits limits;
};

// The stable, value-free name of the rule a Verify rejection broke, for
// metric labels and structured logs: e.g. "expired", "signature_invalid",
// "issuer_not_registered", "alg_none", "actor_expired" (the same rule in the
// actor token of a user+app token). "ok" for OK, "other" for a status the
// verifier did not produce.
std::string RejectionLabel(const absl::Status& status);

// Key-strength rule for a signing certificate (RSA >= 2048, P-256, P-384,
// Ed25519): OK, or UNAUTHENTICATED "token: signing key is too weak: ...".
// Applied to the selected certificate before its signature is checked;
// snapshots refuse such certificates already, this keeps a token from
// relying on that.
absl::Status CheckSigningKeyStrength(const pki::Certificate& cert);

class TokenVerifier {
 public:
  // INVALID_ARGUMENT when the principal or a host is malformed, no host is
  // given, the skew is negative or over 1 h, or the maximum lifetime is not
  // positive.
  static absl::StatusOr<std::unique_ptr<TokenVerifier>> Create(VerifierOptions options);

  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Verifies `token` against `snapshot` at the clock's current time.
  // FAILED_PRECONDITION when `snapshot` is null; otherwise the identity or
  // UNAUTHENTICATED with the reason (see the file comment). Thread-safe.
  absl::StatusOr<TokenIdentity> Verify(
      absl::string_view token, const std::shared_ptr<const trust::TrustSnapshot>& snapshot) const;

  const VerifierOptions& options() const { return options_; }
  // Entries currently cached.
  size_t CachedResults() const;
  // Verifications answered from the cache, and those that were not (with
  // the cache enabled).
  uint64_t cache_hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t cache_misses() const { return misses_.load(std::memory_order_relaxed); }

  // What the verifier derived from one snapshot (digests and key types of
  // issuer certificates, chain results), and one verification's outcome;
  // defined in verifier.cc.
  class PreparedSnapshot;
  struct Verified;

 private:
  struct CacheEntry;
  struct CacheShard;

  explicit TokenVerifier(VerifierOptions options);

  absl::Time Now() const;
  std::shared_ptr<const PreparedSnapshot> Prepare(
      const std::shared_ptr<const trust::TrustSnapshot>& snapshot) const;
  absl::StatusOr<Verified> VerifyUncached(absl::string_view token,
                                          const trust::TrustSnapshot& snapshot,
                                          const PreparedSnapshot& prepared, absl::Time now) const;

  const VerifierOptions options_;
  const absl::flat_hash_set<std::string> hosts_;

  // Prepared state of the most recently used snapshots (a node keeps a
  // current and, briefly, a previous one); weak so that an old snapshot is
  // freed when its last reader lets go.
  struct PreparedSlot {
    std::weak_ptr<const trust::TrustSnapshot> snapshot;
    std::shared_ptr<const PreparedSnapshot> prepared;
  };
  static constexpr size_t kPreparedSlots = 4;
  mutable absl::Mutex prepared_mu_;
  mutable std::vector<PreparedSlot> prepared_ ABSL_GUARDED_BY(prepared_mu_);
  mutable std::atomic<uint64_t> next_generation_{1};

  // Sharded so that request threads rarely contend.
  static constexpr size_t kCacheShards = 16;
  std::array<std::unique_ptr<CacheShard>, kCacheShards> cache_;
  mutable std::atomic<uint64_t> hits_{0};
  mutable std::atomic<uint64_t> misses_{0};
};

}  // namespace trustfabric::token

#endif  // TRUSTFABRIC_COMMON_TOKEN_VERIFIER_H_
