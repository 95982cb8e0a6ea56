// Crafted hostile tokens against TokenVerifier: each must be refused with
// the reason that names the rule it breaks.
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/token/jws.h"
#include "common/token/verifier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/token/token_test_env.h"

namespace trustfabric::token {
namespace {

using test::kAppGuid;
using test::kBrokerClient;
using test::kBrokerGuid;
using test::kEdGuid;
using test::kHost;
using test::kOtherRealm;
using test::kRealm;

constexpr char kUnknownGuid[] = "99999999-9999-4999-8999-999999999999";

struct Attack {
  std::string name;
  std::string token;
  // Exact expected message, or its prefix when `prefix` is set.
  std::string reason;
  bool prefix = false;
  // Null: the base snapshot.
  std::shared_ptr<const trust::TrustSnapshot> snapshot;
  // Verification time relative to the minting time.
  absl::Duration clock_offset = absl::ZeroDuration();
};

std::string Enc(absl::string_view bytes) { return pki::Base64UrlEncode(bytes); }

// The same bytes as `b64` but with non-zero unused trailing bits, which a
// lenient decoder would ignore. REQUIRES: b64.size() % 4 != 0.
std::string NonCanonical(std::string b64) {
  static constexpr absl::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  b64.back() = kAlphabet[kAlphabet.find(b64.back()) + 1];
  return b64;
}

std::string Flip(std::string s, size_t pos, int bit) {
  s[pos] = static_cast<char>(s[pos] ^ (1 << bit));
  return s;
}

// Builds the cases. Everything derives from one minting time T0 and the
// shared test PKI.
class Attacks {
 public:
  Attacks() : pki_(test::SharedTokenPki()), t0_(test::TestNow()) {
    base_ = test::MustCreateSnapshot(test::BaseSnapshot(pki_));
    Build();
  }

  const std::vector<Attack>& all() const { return attacks_; }
  absl::Time t0() const { return t0_; }
  const std::shared_ptr<const trust::TrustSnapshot>& base() const { return base_; }

 private:
  std::string Iss(absl::string_view guid, absl::string_view realm = kRealm) const {
    return absl::StrCat(guid, "@", realm);
  }
  std::string Aud(absl::string_view host = kHost) const {
    return absl::StrCat(kSharePointPrincipal, "/", host, "@", kRealm);
  }

  Json Header(absl::string_view alg, const pki::Certificate* x5t) const {
    Json h = Json::MakeObject();
    h.Set("typ", Json::String("JWT"));
    h.Set("alg", Json::String(std::string(alg)));
    if (x5t != nullptr) h.Set("x5t", Json::String(Enc(x5t->Sha1())));
    return h;
  }
  Json AppHeader() const { return Header("RS256", &pki_.app.certificate); }

  Json Payload(absl::string_view issuer_guid, absl::string_view client_id,
               const char* delegation = "false") const {
    Json p = Json::MakeObject();
    p.Set("aud", Json::String(Aud()));
    p.Set("iss", Json::String(Iss(issuer_guid)));
    p.Set("nbf", Json::Integer(absl::ToUnixSeconds(t0_)));
    p.Set("exp", Json::Integer(absl::ToUnixSeconds(t0_ + absl::Hours(1))));
    p.Set("nameid", Json::String(Iss(client_id)));
    if (delegation != nullptr) p.Set("trustedfordelegation", Json::String(delegation));
    return p;
  }
  Json AppPayload() const { return Payload(kAppGuid, kAppGuid); }

  // Signs raw header and payload text with `signer`'s key, whatever the
  // header claims.
  std::string SignText(absl::string_view header, absl::string_view payload,
                       const pki::IssuedCertificate& signer) const {
    std::string input = absl::StrCat(Enc(header), ".", Enc(payload));
    JwsAlgorithm alg = *AlgorithmForKey(signer.key.get());
    return absl::StrCat(input, ".", Enc(*SignJwsInput(alg, signer.key.get(), input)));
  }
  std::string Sign(const Json& header, const Json& payload,
                   const pki::IssuedCertificate& signer) const {
    return SignText(header.Serialize(), payload.Serialize(), signer);
  }
  std::string Unsigned(const Json& header, const Json& payload) const {
    return absl::StrCat(Enc(header.Serialize()), ".", Enc(payload.Serialize()), ".");
  }
  std::string ValidApp() const { return Sign(AppHeader(), AppPayload(), pki_.app); }
  std::string ValidBroker() const {
    return Sign(Header("ES256", &pki_.broker.certificate), Payload(kBrokerGuid, kBrokerClient),
                pki_.broker);
  }

  // An outer user token around `actor`.
  Json OuterPayload(const std::string& actor, absl::string_view client_id) const {
    Json p = Json::MakeObject();
    p.Set("aud", Json::String(Aud()));
    p.Set("iss", Json::String(Iss(client_id)));
    p.Set("nbf", Json::Integer(absl::ToUnixSeconds(t0_)));
    p.Set("exp", Json::Integer(absl::ToUnixSeconds(t0_ + absl::Hours(1))));
    p.Set("nameid", Json::String("s-1-5-21-1"));
    p.Set("upn", Json::String("alice@contoso.test"));
    p.Set("actortoken", Json::String(actor));
    return p;
  }
  std::string DelegatedActor() const {
    return Sign(Header("ES256", &pki_.broker.certificate),
                Payload(kBrokerGuid, kBrokerClient, "true"), pki_.broker);
  }
  Json NoneHeader(absl::string_view spelling = "none") const {
    Json h = Json::MakeObject();
    h.Set("typ", Json::String("JWT"));
    h.Set("alg", Json::String(std::string(spelling)));
    return h;
  }

  void Add(std::string name, std::string token, std::string reason,
           std::shared_ptr<const trust::TrustSnapshot> snapshot = nullptr,
           absl::Duration offset = absl::ZeroDuration()) {
    attacks_.push_back(Attack{std::move(name), std::move(token), std::move(reason), false,
                              std::move(snapshot), offset});
  }
  void AddPrefix(std::string name, std::string token, std::string reason,
                 std::shared_ptr<const trust::TrustSnapshot> snapshot = nullptr) {
    attacks_.push_back(Attack{std::move(name), std::move(token), std::move(reason), true,
                              std::move(snapshot), absl::ZeroDuration()});
  }

  std::shared_ptr<const trust::TrustSnapshot> Snapshot(
      const std::function<void(v1::TrustSnapshot*)>& edit) const {
    v1::TrustSnapshot s = test::BaseSnapshot(pki_);
    edit(&s);
    return test::MustCreateSnapshot(std::move(s));
  }

  void Build() {
    const std::string app_iss = Iss(kAppGuid);
    const std::string valid = ValidApp();

    // --- alg none in any spelling, and unsigned tokens.
    for (const char* spelling : {"none", "None", "NONE", "nOnE"}) {
      Add(absl::StrCat("alg_", spelling), Unsigned(NoneHeader(spelling), AppPayload()),
          "token: header: alg none is not allowed");
    }
    {
      // A valid signature kept, header switched to none.
      std::string sig = valid.substr(valid.rfind('.'));
      Add("alg_none_with_signature",
          absl::StrCat(Enc(NoneHeader().Serialize()), ".", Enc(AppPayload().Serialize()), sig),
          "token: header: alg none is not allowed");
    }
    Add("unsigned_user_token_actor_not_delegated",
        Unsigned(NoneHeader(), OuterPayload(ValidApp(), kAppGuid)),
        "token: unsigned user token requires an actor trusted for delegation");
    {
      std::string actor = Sign(AppHeader(), Payload(kAppGuid, kAppGuid, nullptr), pki_.app);
      Add("unsigned_user_token_actor_without_delegation_claim",
          Unsigned(NoneHeader(), OuterPayload(actor, kAppGuid)),
          "token: unsigned user token requires an actor trusted for delegation");
    }
    {
      std::string actor =
          Sign(Header("EdDSA", &pki_.ed.certificate), Payload(kEdGuid, kEdGuid, "true"), pki_.ed);
      Add("unsigned_user_token_issuer_disallows_delegation",
          Unsigned(NoneHeader(), OuterPayload(actor, kEdGuid)),
          absl::StrCat("token: issuer ", Iss(kEdGuid), " does not allow user delegation"));
    }
    for (const char* spelling : {"None", "NONE"}) {
      Add(absl::StrCat("user_token_alg_", spelling),
          Unsigned(NoneHeader(spelling), OuterPayload(DelegatedActor(), kBrokerClient)),
          "token: header: alg none is not allowed");
    }
    {
      std::string unsigned_actor =
          Unsigned(NoneHeader(), Payload(kBrokerGuid, kBrokerClient, "true"));
      Add("user_token_unsigned_actor",
          Unsigned(NoneHeader(), OuterPayload(unsigned_actor, kBrokerClient)),
          "token: actor token: header: alg none is not allowed");
    }
    {
      std::string t = Unsigned(NoneHeader(), OuterPayload(DelegatedActor(), kBrokerClient));
      Add("unsigned_user_token_with_signature", t + "AAAA",
          "token: unsigned token carries a signature");
    }
    {
      Json actor_payload = Payload(kBrokerGuid, kBrokerClient, "true");
      actor_payload.Set("actortoken", Json::String(DelegatedActor()));
      std::string nested =
          Sign(Header("ES256", &pki_.broker.certificate), actor_payload, pki_.broker);
      Add("user_token_nested_actor", Unsigned(NoneHeader(), OuterPayload(nested, kBrokerClient)),
          "token: actor token: nested actortoken is not allowed");
    }
    {
      Add("user_token_iss_not_actor_nameid",
          Unsigned(NoneHeader(), OuterPayload(DelegatedActor(), kAppGuid)),
          "token: iss does not match the actor token's nameid");
      Json outer = OuterPayload(DelegatedActor(), kBrokerClient);
      outer.Set("aud", Json::String(Aud("lb.contoso.test")));
      Add("user_token_aud_not_actor_aud", Unsigned(NoneHeader(), outer),
          "token: aud does not match the actor token's aud");
      outer = OuterPayload(DelegatedActor(), kBrokerClient);
      outer.Set("exp", Json::Integer(absl::ToUnixSeconds(t0_ - absl::Minutes(10))));
      outer.Set("nbf", Json::Integer(absl::ToUnixSeconds(t0_ - absl::Minutes(40))));
      Add("user_token_outer_expired", Unsigned(NoneHeader(), outer), "token: expired");
      outer = OuterPayload(DelegatedActor(), kBrokerClient);
      outer.Erase("nameid");
      outer.Erase("upn");
      Add("user_token_without_user", Unsigned(NoneHeader(), outer),
          "token: user token names no user");
      outer = OuterPayload(DelegatedActor(), kBrokerClient);
      outer.Set("actortoken", Json::Integer(1));
      Add("user_token_actortoken_not_string", Unsigned(NoneHeader(), outer),
          "token: actortoken is not a string");
      outer = OuterPayload(DelegatedActor(), kBrokerClient);
      Add("user_token_outer_signed_by_other_issuer",
          Sign(Header("RS256", nullptr), outer, pki_.other),
          absl::StrCat("token: header: alg RS256 is not allowed for issuer ", Iss(kBrokerGuid)));
      std::string actor = DelegatedActor();
      size_t dot = actor.rfind('.');
      std::string sig = *pki::Base64UrlDecode(actor.substr(dot + 1));
      std::string tampered = actor.substr(0, dot + 1) + Enc(Flip(sig, 10, 2));
      Add("user_token_actor_signature_flipped",
          Unsigned(NoneHeader(), OuterPayload(tampered, kBrokerClient)),
          "token: actor token: signature invalid");
    }

    // --- algorithm confusion.
    {
      std::string input = absl::StrCat(Enc(Header("HS256", nullptr).Serialize()), ".",
                                       Enc(AppPayload().Serialize()));
      for (const auto& [label, key] :
           {std::pair<const char*, std::string>{"cert_pem", pki_.app.certificate.ToPem()},
            {"cert_der", pki_.app.certificate.der()}}) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        size_t mac_len = 0;
        EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key.data(), key.size(),
                  reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
                  sizeof(mac), &mac_len);
        Add(absl::StrCat("hs256_keyed_with_issuer_", label),
            absl::StrCat(input, ".", Enc(std::string(reinterpret_cast<const char*>(mac), mac_len))),
            "token: header: alg HS256 is not supported");
      }
    }
    Add("es256_to_rs_only_issuer", Sign(Header("ES256", nullptr), AppPayload(), pki_.broker),
        absl::StrCat("token: header: alg ES256 is not allowed for issuer ", app_iss));
    Add("eddsa_to_rs_only_issuer", Sign(Header("EdDSA", nullptr), AppPayload(), pki_.ed),
        absl::StrCat("token: header: alg EdDSA is not allowed for issuer ", app_iss));
    {
      // A genuine RSA-PSS signature with the issuer's own key.
      std::string input = absl::StrCat(Enc(Header("PS256", &pki_.app.certificate).Serialize()), ".",
                                       Enc(AppPayload().Serialize()));
      pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
      EVP_PKEY_CTX* pctx = nullptr;
      EVP_DigestSignInit(ctx.get(), &pctx, EVP_sha256(), nullptr, pki_.app.key.get());
      EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
      size_t len = 0;
      EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                     input.size());
      std::string sig(len, '\0');
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     reinterpret_cast<const unsigned char*>(input.data()), input.size());
      Add("ps256_with_issuer_key", absl::StrCat(input, ".", Enc(sig)),
          "token: header: alg PS256 is not supported");
    }
    Add("rs256_header_on_broker",
        Sign(Header("RS256", nullptr), Payload(kBrokerGuid, kBrokerClient), pki_.app),
        absl::StrCat("token: header: alg RS256 is not allowed for issuer ", Iss(kBrokerGuid)));
    {
      // An issuer allowed both RS256 and ES256: the header's alg must still
      // fit the certificate x5t names.
      auto multi = Snapshot([&](v1::TrustSnapshot* s) {
        v1::TokenIssuer* i = s->mutable_issuers(0);
        i->add_algorithms(v1::ES256);
        i->add_signing_certificates_pem(pki_.broker.certificate.ToPem());
      });
      Add("alg_does_not_fit_named_certificate",
          Sign(Header("ES256", &pki_.app.certificate), AppPayload(), pki_.broker),
          "token: header: alg ES256 does not fit the key of the named certificate", multi);
    }

    // --- segments.
    {
      size_t dot2 = valid.rfind('.');
      Add("two_segments", valid.substr(0, dot2), "token: expected 3 segments, found 2");
      Add("four_segments", valid + ".", "token: expected 3 segments, found 4");
      Add("jwe_like_five_segments", valid + ".AAAA.AAAA", "token: expected 3 segments, found 5");
      Add("one_segment", valid.substr(0, valid.find('.')), "token: expected 3 segments, found 1");
      Add("empty_token", "", "token: empty");
      Add("empty_header", valid.substr(valid.find('.')), "token: header: empty segment");
      Add("empty_payload",
          absl::StrCat(valid.substr(0, valid.find('.')), "..", valid.substr(dot2 + 1)),
          "token: payload: empty segment");
      Add("empty_signature", valid.substr(0, dot2 + 1), "token: signature invalid: wrong length");
    }

    // --- a flipped bit in each part.
    {
      Json h = AppHeader();
      h.Set("kid", Json::String("a"));
      std::string with_kid = Sign(h, AppPayload(), pki_.app);
      Json flipped_h = AppHeader();
      flipped_h.Set("kid", Json::String("c"));  // 'a' ^ 0x02
      std::string rest = with_kid.substr(with_kid.find('.'));
      Add("flipped_bit_header", Enc(flipped_h.Serialize()) + rest, "token: signature invalid");
      Json p = AppPayload();
      int64_t exp = p.Find("exp")->integer_value();
      Json flipped_p = AppPayload();
      flipped_p.Set("exp", Json::Integer(exp ^ 1));
      size_t d1 = valid.find('.');
      size_t d2 = valid.rfind('.');
      Add("flipped_bit_payload",
          absl::StrCat(valid.substr(0, d1 + 1), Enc(flipped_p.Serialize()), valid.substr(d2)),
          "token: signature invalid");
      std::string sig = *pki::Base64UrlDecode(valid.substr(d2 + 1));
      Add("flipped_bit_signature", valid.substr(0, d2 + 1) + Enc(Flip(sig, 100, 3)),
          "token: signature invalid");
      std::string broker = ValidBroker();
      size_t bd = broker.rfind('.');
      std::string bsig = *pki::Base64UrlDecode(broker.substr(bd + 1));
      Add("flipped_bit_es256_signature", broker.substr(0, bd + 1) + Enc(Flip(bsig, 40, 0)),
          "token: signature invalid");
    }

    // --- keys carried or pointed at by the token.
    for (const char* param : {"jwk", "x5c", "jku", "x5u"}) {
      Json h = AppHeader();
      if (std::string(param) == "jwk") {
        Json jwk = Json::MakeObject();
        jwk.Set("kty", Json::String("RSA"));
        jwk.Set("n", Json::String("AQAB"));
        jwk.Set("e", Json::String("AQAB"));
        h.Set(param, jwk);
      } else if (std::string(param) == "x5c") {
        h.Set(param,
              Json::MakeArray({Json::String(pki::Base64Encode(pki_.other.certificate.der()))}));
      } else {
        h.Set(param, Json::String("https://attacker.example/keys"));
      }
      Add(absl::StrCat("embedded_", param), Sign(h, AppPayload(), pki_.other),
          absl::StrCat("token: header: ", param, " is not allowed"));
    }
    {
      Json h = AppHeader();
      h.Set("crit", Json::MakeArray({Json::String("exp")}));
      h.Set("exp", Json::Integer(1));
      Add("unknown_crit", Sign(h, AppPayload(), pki_.app), "token: header: crit is not supported");
      h = AppHeader();
      h.Set("b64", Json::Bool(false));
      h.Set("crit", Json::MakeArray({Json::String("b64")}));
      Add("crit_b64", Sign(h, AppPayload(), pki_.app), "token: header: crit is not supported");
      h = AppHeader();
      h.Erase("typ");
      Add("typ_missing", Sign(h, AppPayload(), pki_.app), "token: header: typ is missing");
      h = AppHeader();
      h.Set("typ", Json::String("at+jwt"));
      Add("typ_wrong", Sign(h, AppPayload(), pki_.app), "token: header: typ must be JWT");
      h = AppHeader();
      h.Set("cty", Json::String("JWT"));
      Add("nested_cty", Sign(h, AppPayload(), pki_.app), "token: header: cty is not allowed");
    }

    // --- certificate selection.
    {
      Add("x5t_of_other_issuer",
          Sign(Header("RS256", &pki_.other.certificate), AppPayload(), pki_.other),
          absl::StrCat("token: header: x5t does not name a certificate of issuer ", app_iss));
      Json h = Header("RS256", nullptr);
      h.Set("x5t#S256", Json::String(Enc(pki_.other.certificate.Sha256())));
      Add("x5t_s256_of_other_issuer", Sign(h, AppPayload(), pki_.other),
          absl::StrCat("token: header: x5t#S256 does not name a certificate of issuer ", app_iss));
      h = AppHeader();
      h.Set("x5t#S256", Json::String(Enc(pki_.app_next.certificate.Sha256())));
      Add("x5t_and_x5t_s256_disagree", Sign(h, AppPayload(), pki_.app),
          "token: header: x5t and x5t#S256 name different certificates");
      h = AppHeader();
      h.Set("x5t", Json::String("not-a-digest"));
      Add("x5t_malformed", Sign(h, AppPayload(), pki_.app), "token: header: x5t is malformed");
      Add("signed_by_other_issuer_without_x5t",
          Sign(Header("RS256", nullptr), AppPayload(), pki_.other), "token: signature invalid");
      Add("signed_by_rotation_key_but_x5t_names_first",
          Sign(AppHeader(), AppPayload(), pki_.app_next), "token: signature invalid");
    }

    // --- time.
    {
      Add("expired_one_second_past_skew", valid, "token: expired", nullptr,
          absl::Hours(1) + absl::Minutes(5) + absl::Seconds(1));
      Add("not_yet_valid_one_second_before_skew", valid, "token: not yet valid", nullptr,
          -absl::Minutes(5) - absl::Seconds(1));
      auto with = [&](const char* claim, Json value) {
        Json p = AppPayload();
        p.Set(claim, std::move(value));
        return Sign(AppHeader(), p, pki_.app);
      };
      int64_t exp = absl::ToUnixSeconds(t0_ + absl::Hours(1));
      Add("exp_float", with("exp", Json::Float(static_cast<double>(exp))),
          "token: exp is not an integer");
      Add("exp_string", with("exp", Json::String(absl::StrCat(exp))),
          "token: exp is not an integer");
      Add("nbf_float", with("nbf", Json::Float(static_cast<double>(absl::ToUnixSeconds(t0_)))),
          "token: nbf is not an integer");
      Add("exp_year_10000", with("exp", Json::Integer(253402300800)), "token: exp is out of range");
      Add("exp_negative", with("exp", Json::Integer(-1)), "token: exp is out of range");
      Add("exp_int64_max", with("exp", Json::Integer(INT64_MAX)), "token: exp is out of range");
      std::string payload = AppPayload().Serialize();
      std::string huge = payload;
      huge.replace(huge.find(absl::StrCat(exp)), absl::StrCat(exp).size(), "92233720368547758070");
      AddPrefix("exp_beyond_int64", SignText(AppHeader().Serialize(), huge, pki_.app),
                "token: payload: json: integer out of range at offset ");
      std::string exponent = payload;
      exponent.replace(exponent.find(absl::StrCat(exp)), absl::StrCat(exp).size(), "17e8");
      Add("exp_exponent_form", SignText(AppHeader().Serialize(), exponent, pki_.app),
          "token: exp is not an integer");
      Json p = AppPayload();
      p.Erase("exp");
      Add("exp_missing", Sign(AppHeader(), p, pki_.app), "token: exp is missing");
      p = AppPayload();
      p.Erase("nbf");
      Add("nbf_missing", Sign(AppHeader(), p, pki_.app), "token: nbf is missing");
      Add("exp_before_nbf", with("exp", Json::Integer(absl::ToUnixSeconds(t0_) - 1)),
          "token: exp is not after nbf");
      Add("lifetime_over_12h",
          with("exp", Json::Integer(absl::ToUnixSeconds(t0_ + absl::Hours(12)) + 1)),
          "token: lifetime exceeds the maximum of 12h");
    }

    // --- issuer, audience, realm, client id.
    {
      auto with = [&](const char* claim, Json value) {
        Json p = AppPayload();
        p.Set(claim, std::move(value));
        return Sign(AppHeader(), p, pki_.app);
      };
      Add("unknown_issuer", with("iss", Json::String(Iss(kUnknownGuid))),
          absl::StrCat("token: issuer ", Iss(kUnknownGuid), " is not registered"));
      std::string upper_guid = absl::AsciiStrToUpper(kAppGuid);
      Add("issuer_guid_upper_case", with("iss", Json::String(Iss(upper_guid))),
          absl::StrCat("token: issuer ", Iss(upper_guid), " is not registered"));
      std::string upper_realm = absl::AsciiStrToUpper(kRealm);
      Add("issuer_realm_upper_case", with("iss", Json::String(Iss(kAppGuid, upper_realm))),
          absl::StrCat("token: issuer realm ", upper_realm, " does not match"));
      Add("issuer_other_realm", with("iss", Json::String(Iss(kAppGuid, kOtherRealm))),
          absl::StrCat("token: issuer realm ", kOtherRealm, " does not match"));
      Add("issuer_malformed", with("iss", Json::String("joe")), "token: iss is malformed");
      Json p = AppPayload();
      p.Erase("iss");
      Add("issuer_missing", Sign(AppHeader(), p, pki_.app), "token: iss is missing");
      Add("audience_other_host", with("aud", Json::String(Aud("evil.contoso.test"))),
          "token: audience host evil.contoso.test is not accepted");
      Add("audience_host_upper_case", with("aud", Json::String(Aud("FE1.contoso.test"))),
          "token: audience host FE1.contoso.test is not accepted");
      Add("audience_other_principal",
          with("aud", Json::String(absl::StrCat("00000004-0000-0ff1-ce00-000000000000/", kHost, "@",
                                                kRealm))),
          "token: audience principal 00000004-0000-0ff1-ce00-000000000000 is not accepted");
      Add("audience_other_realm",
          with("aud",
               Json::String(absl::StrCat(kSharePointPrincipal, "/", kHost, "@", kOtherRealm))),
          absl::StrCat("token: audience realm ", kOtherRealm, " does not match"));
      Add("audience_array", with("aud", Json::MakeArray({Json::String(Aud())})),
          "token: aud is not a string");
      Add("nameid_other_realm", with("nameid", Json::String(Iss(kAppGuid, kOtherRealm))),
          absl::StrCat("token: nameid realm ", kOtherRealm, " does not match"));
      Add("per_app_issuer_guid_not_client_id", with("nameid", Json::String(Iss(kBrokerClient))),
          absl::StrCat("token: client id ", kBrokerClient, " does not match issuer ", app_iss));
      Add("trustedfordelegation_boolean", with("trustedfordelegation", Json::Bool(true)),
          "token: trustedfordelegation is not \"true\" or \"false\"");
      Add("broker_unregistered_client",
          Sign(Header("ES256", &pki_.broker.certificate), Payload(kBrokerGuid, kUnknownGuid),
               pki_.broker),
          absl::StrCat("token: client id ", kUnknownGuid, " is not registered with broker issuer ",
                       Iss(kBrokerGuid)));
      std::string upper_client = absl::AsciiStrToUpper(kBrokerClient);
      Add("broker_client_upper_case",
          Sign(Header("ES256", &pki_.broker.certificate), Payload(kBrokerGuid, upper_client),
               pki_.broker),
          absl::StrCat("token: client id ", upper_client, " is not registered with broker issuer ",
                       Iss(kBrokerGuid)));
    }

    // --- strict encodings.
    {
      std::string h = AppHeader().Serialize();
      std::string p = AppPayload().Serialize();
      // A member appended to the header's or the payload's JSON object.
      struct Appended {
        const char* name;
        bool to_header;
        std::string member;
        const char* reason;
      };
      const auto append = [](std::string json, const std::string& member) {
        json.insert(json.size() - 1, member);
        return json;
      };
      for (const Appended& a : {
               Appended{"duplicate_exp", false, ",\"exp\":1",
                        "token: payload: json: duplicate key \"exp\" at offset "},
               Appended{"duplicate_iss", false,
                        absl::StrCat(",\"iss\":\"", Iss(kUnknownGuid), "\""),
                        "token: payload: json: duplicate key \"iss\""},
               Appended{"duplicate_alg", true, ",\"alg\":\"none\"",
                        "token: header: json: duplicate key \"alg\""},
               Appended{"invalid_utf8", false, ",\"x\":\"\xff\"",
                        "token: payload: json: invalid utf-8 at offset "},
               Appended{"overlong_utf8", false, ",\"x\":\"\xc0\xaf\"",
                        "token: payload: json: invalid utf-8"},
               Appended{"lone_surrogate_escape", false, ",\"x\":\"\\ud800\"",
                        "token: payload: json: unpaired surrogate escape"},
               Appended{"deep_nesting", false,
                        ",\"x\":" + std::string(20, '[') + std::string(20, ']'),
                        "token: payload: json: nesting deeper than 16"},
               Appended{"raw_control_character", false, ",\"x\":\"a\nb\"",
                        "token: payload: json: control character in string"},
           }) {
        AddPrefix(a.name,
                  a.to_header ? SignText(append(h, a.member), p, pki_.app)
                              : SignText(h, append(p, a.member), pki_.app),
                  a.reason);
      }
      AddPrefix("trailing_data", SignText(h, p + "x", pki_.app),
                "token: payload: json: trailing data");
      Add("payload_array", SignText(h, "[" + p + "]", pki_.app),
          "token: payload: not a json object");
      std::string zero = p;
      std::string nbf = absl::StrCat(absl::ToUnixSeconds(t0_));
      zero.replace(zero.find(nbf), nbf.size(), "0" + nbf);
      AddPrefix("leading_zero", SignText(h, zero, pki_.app), "token: payload: json: leading zero");

      size_t d2 = valid.rfind('.');
      // A 256-byte RSA signature is 342 characters with 4 unused bits.
      AddPrefix("non_canonical_base64url_signature",
                valid.substr(0, d2 + 1) + NonCanonical(valid.substr(d2 + 1)),
                "token: signature: base64url: ");
      std::string padded = p.size() % 3 == 0 ? p + " " : p;
      AddPrefix("non_canonical_base64url_payload",
                absl::StrCat(Enc(h), ".", NonCanonical(Enc(padded)), valid.substr(d2)),
                "token: payload: base64url: ");
      Add("base64_padding",
          valid + "==", absl::StrCat("token: invalid character at offset ", valid.size()));
      std::string std_alphabet = valid;
      size_t pos = d2 + 1;
      std_alphabet[pos] = '+';
      Add("standard_base64_alphabet", std_alphabet,
          absl::StrCat("token: invalid character at offset ", pos));
      Add("embedded_whitespace", valid.substr(0, 10) + " " + valid.substr(10),
          "token: invalid character at offset 10");
      Json big = AppPayload();
      big.Set("pad", Json::String(std::string(13000, 'a')));
      std::string oversize = Sign(AppHeader(), big, pki_.app);
      Add("oversize", oversize,
          absl::StrCat("token: too large (", oversize.size(), " bytes, limit 16384)"));
    }

    // --- ES256 / signature forms.
    {
      std::string broker = ValidBroker();
      size_t d2 = broker.rfind('.');
      std::string input = broker.substr(0, d2 + 1);
      std::string sig = *pki::Base64UrlDecode(broker.substr(d2 + 1));
      Add("es256_r_s_zero", input + Enc(std::string(64, '\0')),
          "token: signature invalid: r or s out of range");
      std::string order = *pki::Base64UrlDecode("_____wAAAAD__________7zm-q2nF56E87nKwvxjJVE");
      Add("es256_s_equals_order", input + Enc(sig.substr(0, 32) + order),
          "token: signature invalid: r or s out of range");
      Add("es256_63_bytes", input + Enc(sig.substr(0, 63)),
          "token: signature invalid: wrong length");
      Add("es256_der_signature", input + Enc(*Es256RawToDer(sig)),
          "token: signature invalid: wrong length");
      size_t v2 = valid.rfind('.');
      std::string rsig = *pki::Base64UrlDecode(valid.substr(v2 + 1));
      Add("rs256_truncated_signature", valid.substr(0, v2 + 1) + Enc(rsig.substr(0, 255)),
          "token: signature invalid: wrong length");
      std::string ed =
          Sign(Header("EdDSA", &pki_.ed.certificate), Payload(kEdGuid, kEdGuid), pki_.ed);
      size_t e2 = ed.rfind('.');
      std::string esig = *pki::Base64UrlDecode(ed.substr(e2 + 1));
      Add("eddsa_wrong_length", ed.substr(0, e2 + 1) + Enc(esig + "x"),
          "token: signature invalid: wrong length");
    }

    // --- signing certificates: weak, expired, revoked, unchained.
    {
      pki::CertificateSpec spec;
      spec.common_name = "weak";
      spec.signing_only = true;
      spec.key = test::OrDie(pki::PrivateKey::GenerateRsa(1024), "weak key");
      pki::IssuedCertificate weak = test::OrDie(pki::Issue(spec, nullptr), "weak cert");
      Add("rsa_1024_signer_named_by_x5t",
          Sign(Header("RS256", &weak.certificate), AppPayload(), weak),
          absl::StrCat("token: header: x5t does not name a certificate of issuer ", app_iss));
      Add("rsa_1024_signer_without_x5t", Sign(Header("RS256", nullptr), AppPayload(), weak),
          "token: signature invalid");

      pki::IssuedCertificate expired = test::SigningCertificate(
          "expired", pki::KeyType::kEcP256, nullptr, t0_ - absl::Hours(48), t0_ - absl::Hours(24));
      pki::IssuedCertificate future = test::SigningCertificate(
          "future", pki::KeyType::kEcP256, nullptr, t0_ + absl::Hours(2), t0_ + absl::Hours(48));
      for (const auto& [label, cert, reason] :
           {std::tuple<const char*, const pki::IssuedCertificate*, const char*>{
                "expired", &expired, "token: signing certificate has expired"},
            {"not_yet_valid", &future, "token: signing certificate is not yet valid"}}) {
        const pki::IssuedCertificate* c = cert;
        auto snap = Snapshot([&](v1::TrustSnapshot* s) {
          test::AddRoot(s, "x-signing", c->certificate.ToPem());
          test::AddIssuer(s, "x", kUnknownGuid, {c}, v1::ES256, false);
        });
        Add(absl::StrCat("signing_certificate_", label),
            Sign(Header("ES256", &c->certificate), Payload(kUnknownGuid, kUnknownGuid), *c), reason,
            snap);
      }
      Add("signing_certificate_revoked", valid, "token: signing certificate is revoked",
          Snapshot([&](v1::TrustSnapshot* s) {
            s->add_revocations()->set_sha256_hex(pki_.app.certificate.Sha256Hex());
          }));
      Add("signing_root_revoked", ValidBroker(),
          "token: signing certificate chain includes a revoked certificate",
          Snapshot([&](v1::TrustSnapshot* s) {
            s->add_revocations()->set_sha256_hex(pki_.domain.root().certificate.Sha256Hex());
          }));
      AddPrefix("signing_certificate_not_chained", valid,
                "token: signing certificate does not chain to a token-signing root: ",
                Snapshot([](v1::TrustSnapshot* s) { s->mutable_roots()->DeleteSubrange(1, 1); }));
      AddPrefix("root_without_token_signing_purpose", ValidBroker(),
                "token: signing certificate does not chain to a token-signing root: ",
                Snapshot([](v1::TrustSnapshot* s) {
                  s->mutable_roots(0)->clear_purposes();
                  s->mutable_roots(0)->add_purposes(v1::MTLS);
                }));
      Add("no_token_signing_roots", ValidBroker(),
          "token: no token-signing root authority is registered",
          Snapshot([](v1::TrustSnapshot* s) {
            s->mutable_roots()->DeleteSubrange(1, 3);
            s->mutable_roots(0)->clear_purposes();
            s->mutable_roots(0)->add_purposes(v1::MTLS);
          }));
    }
  }

  const test::TokenPki& pki_;
  absl::Time t0_;
  std::shared_ptr<const trust::TrustSnapshot> base_;
  std::vector<Attack> attacks_;
};

const Attacks& AllAttacks() {
  static const Attacks* attacks = new Attacks();
  return *attacks;
}

std::vector<std::string> AttackNames() {
  std::vector<std::string> names;
  for (const Attack& a : AllAttacks().all()) names.push_back(a.name);
  return names;
}

const Attack& Find(const std::string& name) {
  for (const Attack& a : AllAttacks().all()) {
    if (a.name == name) return a;
  }
  std::abort();
}

class TokenAttackTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenAttackTest, IsRejectedWithItsReason) {
  const Attack& attack = Find(GetParam());
  absl::Time now = AllAttacks().t0() + attack.clock_offset;
  const auto& snapshot = attack.snapshot ? attack.snapshot : AllAttacks().base();
  // Both the cached and the uncached paths must refuse, twice in a row.
  for (size_t capacity : {size_t{10000}, size_t{0}}) {
    std::unique_ptr<TokenVerifier> verifier = test::MakeVerifier(&now, capacity);
    for (int round = 0; round < 2; ++round) {
      absl::StatusOr<TokenIdentity> id = verifier->Verify(attack.token, snapshot);
      ASSERT_FALSE(id.ok()) << "accepted: " << attack.name;
      EXPECT_EQ(id.status().code(), absl::StatusCode::kUnauthenticated);
      std::string label = RejectionLabel(id.status());
      EXPECT_NE(label, "other");
      EXPECT_EQ(label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_"), std::string::npos)
          << label;
      if (attack.prefix) {
        EXPECT_THAT(std::string(id.status().message()), ::testing::StartsWith(attack.reason));
      } else {
        EXPECT_EQ(id.status().message(), attack.reason);
      }
    }
    EXPECT_EQ(verifier->CachedResults(), 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Attacks, TokenAttackTest, ::testing::ValuesIn(AttackNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

TEST(TokenAttackSuite, HasAtLeastSixtyCasesWithUniqueNames) {
  std::vector<std::string> names = AttackNames();
  EXPECT_GE(names.size(), 60u);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

// Control: the untampered tokens the attacks are derived from are accepted,
// so each rejection above is due to its tampering.
TEST(TokenAttackSuite, UntamperedBaseTokensAreAccepted) {
  const test::TokenPki& pki = test::SharedTokenPki();
  absl::Time now = AllAttacks().t0();
  std::unique_ptr<TokenVerifier> verifier = test::MakeVerifier(&now);
  std::string edge = *MintAppOnlyToken(test::AppOptions(now), test::Credentials(pki.app));
  for (absl::Duration offset : {-absl::Minutes(5), absl::Hours(1) + absl::Minutes(5)}) {
    absl::Time at = now + offset;
    std::unique_ptr<TokenVerifier> v = test::MakeVerifier(&at);
    EXPECT_TRUE(v->Verify(edge, AllAttacks().base()).ok()) << absl::FormatDuration(offset);
  }
  UserClaims alice;
  alice.upn = "alice@contoso.test";
  EXPECT_TRUE(
      verifier
          ->Verify(*MintUserToken(test::BrokerOptions(now), test::Credentials(pki.broker), alice),
                   AllAttacks().base())
          .ok());
}

TEST(TokenAttackSuite, SnapshotRefusesRsa1024IssuerAndVerifierRefusesItsKey) {
  const test::TokenPki& pki = test::SharedTokenPki();
  pki::CertificateSpec spec;
  spec.common_name = "weak";
  spec.signing_only = true;
  spec.key = *pki::PrivateKey::GenerateRsa(1024);
  pki::IssuedCertificate weak = *pki::Issue(spec, nullptr);
  v1::TrustSnapshot s = test::BaseSnapshot(pki);
  test::AddRoot(&s, "weak-signing", weak.certificate.ToPem());
  absl::StatusOr<std::shared_ptr<const trust::TrustSnapshot>> refused =
      trust::TrustSnapshot::Create(s);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  s = test::BaseSnapshot(pki);
  test::AddIssuer(&s, "weak", kUnknownGuid, {&weak}, v1::RS256, false);
  refused = trust::TrustSnapshot::Create(s);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  // The verifier checks the selected certificate itself as well.
  EXPECT_THAT(std::string(CheckSigningKeyStrength(weak.certificate).message()),
              ::testing::HasSubstr("signing key is too weak: rsa key of 1024 bits"));
}

}  // namespace
}  // namespace trustfabric::token
