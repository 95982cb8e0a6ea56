#include "common/token/jws.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/status/status.h"
#include "common/util/enum_names.h"

namespace trustfabric::token {
namespace {

constexpr size_t kEs256FieldBytes = 32;

// Order n of the P-256 group (SEC 2 §2.4.2), big-endian.
constexpr unsigned char kP256Order[kEs256FieldBytes] = {
    0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84, 0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51};

// Fetched once: an implicit fetch per EVP_DigestVerifyInit would cost a
// method-store lookup on every verification.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

// 1 <= v < n for a 32-byte big-endian scalar.
bool ScalarInRange(const unsigned char* v) {
  bool zero = true;
  for (size_t i = 0; i < kEs256FieldBytes; ++i) zero = zero && v[i] == 0;
  return !zero && std::memcmp(v, kP256Order, kEs256FieldBytes) < 0;
}

bool IsP256(EVP_PKEY* key) {
  if (!EVP_PKEY_is_a(key, "EC")) return false;
  char name[64];
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof(name), &len) != 1) return false;
  return absl::string_view(name, len) == "prime256v1";
}

absl::Status CheckKeyFits(JwsAlgorithm alg, EVP_PKEY* key) {
  if (alg == JwsAlgorithm::kNone) {
    return absl::InvalidArgumentError("alg none has no signature");
  }
  if (key == nullptr) return absl::InvalidArgumentError("no key");
  std::optional<JwsAlgorithm> fits = AlgorithmForKey(key);
  if (!fits.has_value() || *fits != alg) {
    return absl::InvalidArgumentError(absl::StrCat("key does not fit alg ", JwsAlgorithmName(alg)));
  }
  return absl::OkStatus();
}

absl::Status Invalid(absl::string_view detail) {
  ERR_clear_error();
  if (detail.empty()) return absl::UnauthenticatedError("signature invalid");
  return absl::UnauthenticatedError(absl::StrCat("signature invalid: ", detail));
}

}  // namespace

constexpr util::EnumName<JwsAlgorithm> kJwsAlgorithmNames[] = {{JwsAlgorithm::kNone, "none"},
                                                               {JwsAlgorithm::kRs256, "RS256"},
                                                               {JwsAlgorithm::kEs256, "ES256"},
                                                               {JwsAlgorithm::kEdDsa, "EdDSA"}};

absl::string_view JwsAlgorithmName(JwsAlgorithm alg) {
  return util::NameOf(kJwsAlgorithmNames, alg, "none");
}

std::optional<JwsAlgorithm> JwsAlgorithmFromName(absl::string_view name) {
  return util::ValueOf(kJwsAlgorithmNames, name);
}

std::optional<JwsAlgorithm> AlgorithmForKey(EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  if (EVP_PKEY_is_a(key, "RSA")) return JwsAlgorithm::kRs256;
  if (EVP_PKEY_is_a(key, "ED25519")) return JwsAlgorithm::kEdDsa;
  if (IsP256(key)) return JwsAlgorithm::kEs256;
  return std::nullopt;
}

absl::StatusOr<CompactJws> ParseCompactJws(absl::string_view token, const JwsLimits& limits) {
  if (token.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("too large (", token.size(), " bytes, limit ", limits.max_bytes, ")"));
  }
  if (token.empty()) return absl::InvalidArgumentError("empty");
  size_t dots[2];
  size_t ndots = 0;
  for (size_t i = 0; i < token.size(); ++i) {
    char c = token[i];
    bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '_';
    if (b64) continue;
    if (c != '.')
      return absl::InvalidArgumentError(absl::StrCat("invalid character at offset ", i));
    if (ndots < 2) dots[ndots] = i;
    ++ndots;
  }
  if (ndots != 2) {
    return absl::InvalidArgumentError(absl::StrCat("expected 3 segments, found ", ndots + 1));
  }
  absl::string_view header_b64 = token.substr(0, dots[0]);
  absl::string_view payload_b64 = token.substr(dots[0] + 1, dots[1] - dots[0] - 1);
  absl::string_view signature_b64 = token.substr(dots[1] + 1);
  if (header_b64.empty()) return absl::InvalidArgumentError("header: empty segment");
  if (payload_b64.empty()) return absl::InvalidArgumentError("payload: empty segment");

  CompactJws jws;
  absl::StatusOr<std::string> header_bytes = pki::Base64UrlDecode(header_b64);
  if (!header_bytes.ok()) return Annotate(header_bytes.status(), "header");
  absl::StatusOr<std::string> payload_bytes = pki::Base64UrlDecode(payload_b64);
  if (!payload_bytes.ok()) return Annotate(payload_bytes.status(), "payload");
  absl::StatusOr<std::string> signature = pki::Base64UrlDecode(signature_b64);
  if (!signature.ok()) return Annotate(signature.status(), "signature");

  absl::StatusOr<Json> header = ParseJson(*header_bytes, limits.json);
  if (!header.ok()) return Annotate(header.status(), "header");
  if (!header->is_object()) return absl::InvalidArgumentError("header: not a json object");
  absl::StatusOr<Json> payload = ParseJson(*payload_bytes, limits.json);
  if (!payload.ok()) return Annotate(payload.status(), "payload");
  if (!payload->is_object()) return absl::InvalidArgumentError("payload: not a json object");

  jws.signing_input = std::string(token.substr(0, dots[1]));
  jws.header = *std::move(header);
  jws.payload = *std::move(payload);
  jws.signature = *std::move(signature);
  return jws;
}

absl::StatusOr<std::string> Es256RawToDer(absl::string_view raw) {
  if (raw.size() != 2 * kEs256FieldBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("es256 signature must be 64 bytes, got ", raw.size()));
  }
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  if (!ScalarInRange(bytes) || !ScalarInRange(bytes + kEs256FieldBytes)) {
    return absl::InvalidArgumentError("es256 signature r or s out of range");
  }
  pki::BignumPtr r(BN_bin2bn(bytes, kEs256FieldBytes, nullptr));
  pki::BignumPtr s(BN_bin2bn(bytes + kEs256FieldBytes, kEs256FieldBytes, nullptr));
  pki::EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) {
    return absl::InternalError(pki::ConsumeOpenSslError("ecdsa signature allocation failed"));
  }
  // ECDSA_SIG_set0 took ownership.
  (void)r.release();
  (void)s.release();
  std::string out = pki::EncodeDer(i2d_ECDSA_SIG, sig.get());
  if (out.empty()) {
    return absl::InternalError(pki::ConsumeOpenSslError("ecdsa signature encoding failed"));
  }
  return out;
}

absl::StatusOr<std::string> Es256DerToRaw(absl::string_view der) {
  size_t consumed = 0;
  pki::EcdsaSigPtr sig(pki::DecodeDer(d2i_ECDSA_SIG, der, &consumed));
  if (!sig || consumed != der.size()) {
    ERR_clear_error();
    return absl::InvalidArgumentError("ecdsa signature is not valid der");
  }
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string out(2 * kEs256FieldBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (BN_bn2binpad(r, bytes, kEs256FieldBytes) < 0 ||
      BN_bn2binpad(s, bytes + kEs256FieldBytes, kEs256FieldBytes) < 0 || !ScalarInRange(bytes) ||
      !ScalarInRange(bytes + kEs256FieldBytes)) {
    ERR_clear_error();
    return absl::InvalidArgumentError("es256 signature r or s out of range");
  }
  return out;
}

absl::StatusOr<std::string> SignJwsInput(JwsAlgorithm alg, EVP_PKEY* private_key,
                                         absl::string_view signing_input) {
  TF_RETURN_IF_ERROR(CheckKeyFits(alg, private_key));
  pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = alg == JwsAlgorithm::kEdDsa ? nullptr : Sha256Md();
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, private_key) != 1) {
    return absl::InternalError(pki::ConsumeOpenSslError("signing setup failed"));
  }
  const auto* tbs = reinterpret_cast<const unsigned char*>(signing_input.data());
  size_t len = 0;
  if (EVP_DigestSign(ctx.get(), nullptr, &len, tbs, signing_input.size()) != 1) {
    return absl::InternalError(pki::ConsumeOpenSslError("signing failed"));
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, tbs,
                     signing_input.size()) != 1) {
    return absl::InternalError(pki::ConsumeOpenSslError("signing failed"));
  }
  sig.resize(len);
  if (alg == JwsAlgorithm::kEs256) return Es256DerToRaw(sig);
  return sig;
}

absl::Status VerifyJwsSignature(JwsAlgorithm alg, EVP_PKEY* public_key,
                                absl::string_view signing_input, absl::string_view signature) {
  TF_RETURN_IF_ERROR(CheckKeyFits(alg, public_key));
  std::string der;
  absl::string_view to_check = signature;
  switch (alg) {
    case JwsAlgorithm::kRs256:
      if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(public_key))) {
        return Invalid("wrong length");
      }
      break;
    case JwsAlgorithm::kEs256: {
      if (signature.size() != 2 * kEs256FieldBytes) return Invalid("wrong length");
      absl::StatusOr<std::string> converted = Es256RawToDer(signature);
      if (!converted.ok()) return Invalid("r or s out of range");
      der = *std::move(converted);
      to_check = der;
      break;
    }
    case JwsAlgorithm::kEdDsa:
      if (signature.size() != 64) return Invalid("wrong length");
      break;
    case JwsAlgorithm::kNone:
      break;
  }
  pki::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = alg == JwsAlgorithm::kEdDsa ? nullptr : Sha256Md();
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, md, nullptr, public_key) != 1) {
    return absl::InternalError(pki::ConsumeOpenSslError("verification setup failed"));
  }
  int rc = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(to_check.data()), to_check.size(),
      reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size());
  if (rc != 1) return Invalid("");
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignCompactJws(const Json& header, const Json& payload,
                                           EVP_PKEY* private_key) {
  if (!header.is_object() || !payload.is_object()) {
    return absl::InvalidArgumentError("header and payload must be json objects");
  }
  const Json* alg_value = header.Find("alg");
  if (alg_value == nullptr || !alg_value->is_string()) {
    return absl::InvalidArgumentError("header: alg is missing");
  }
  std::optional<JwsAlgorithm> alg = JwsAlgorithmFromName(alg_value->string_value());
  if (!alg.has_value()) return absl::InvalidArgumentError("header: alg is not supported");
  std::string out = pki::Base64UrlEncode(header.Serialize());
  out.push_back('.');
  out.append(pki::Base64UrlEncode(payload.Serialize()));
  if (*alg == JwsAlgorithm::kNone) {
    if (private_key != nullptr) {
      return absl::InvalidArgumentError("alg none takes no key");
    }
    out.push_back('.');
    return out;
  }
  TF_ASSIGN_OR_RETURN(std::string sig, SignJwsInput(*alg, private_key, out));
  out.push_back('.');
  out.append(pki::Base64UrlEncode(sig));
  return out;
}

}  // namespace trustfabric::token
