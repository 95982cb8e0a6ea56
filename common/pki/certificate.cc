// X.509 certificate values and PEM bundles; see certificate.h.
#include "common/pki/certificate.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <climits>
#include <ctime>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/pki/openssl_ptr.h"
#include "common/pki/pem.h"
#include "common/status/status.h"
#include "common/util/enum_names.h"

namespace trustfabric::pki {
namespace {

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(len));
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || name == nullptr) return "";
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return "";
  return BioContents(bio.get());
}

std::vector<std::string> AltNames(X509* x509, int type) {
  std::vector<std::string> out;
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x509, NID_subject_alt_name, nullptr, nullptr)));
  if (names == nullptr) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type != type) continue;
    const ASN1_IA5STRING* s = type == GEN_DNS ? gn->d.dNSName : gn->d.uniformResourceIdentifier;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

std::string EcGroupName(const EVP_PKEY* pkey) {
  char name[80] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name),
                                     &len) != 1) {
    return "";
  }
  return std::string(name, len);
}

}  // namespace

// kOther is the fallback.
constexpr util::EnumName<KeyAlgorithm> kKeyAlgorithmNames[] = {{KeyAlgorithm::kRsa, "rsa"},
                                                               {KeyAlgorithm::kEcP256, "ec p-256"},
                                                               {KeyAlgorithm::kEcP384, "ec p-384"},
                                                               {KeyAlgorithm::kEd25519, "ed25519"}};

absl::string_view KeyAlgorithmName(KeyAlgorithm algorithm) {
  return util::NameOf(kKeyAlgorithmNames, algorithm, "other");
}

KeyAlgorithm KeyAlgorithmOf(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return KeyAlgorithm::kOther;
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
      return KeyAlgorithm::kRsa;
    case EVP_PKEY_ED25519:
      return KeyAlgorithm::kEd25519;
    case EVP_PKEY_EC: {
      const std::string group = EcGroupName(pkey);
      if (group == "prime256v1" || group == "P-256") return KeyAlgorithm::kEcP256;
      if (group == "secp384r1" || group == "P-384") return KeyAlgorithm::kEcP384;
      return KeyAlgorithm::kOther;
    }
    default:
      return KeyAlgorithm::kOther;
  }
}

int KeyBitsOf(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return 0;
  // OpenSSL reports 253 for Ed25519 (the group order); callers and manifests
  // speak of 256-bit Ed25519 keys.
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) return 256;
  return EVP_PKEY_get_bits(pkey);
}

absl::Status CheckKeyStrength(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return absl::InvalidArgumentError("key: missing");
  const int base_id = EVP_PKEY_get_base_id(pkey);
  switch (KeyAlgorithmOf(pkey)) {
    case KeyAlgorithm::kRsa: {
      const int bits = EVP_PKEY_get_bits(pkey);
      if (bits < 2048) {
        return absl::InvalidArgumentError(
            absl::StrCat("rsa key of ", bits, " bits is below the minimum of 2048"));
      }
      return absl::OkStatus();
    }
    case KeyAlgorithm::kEcP256:
    case KeyAlgorithm::kEcP384:
    case KeyAlgorithm::kEd25519:
      return absl::OkStatus();
    case KeyAlgorithm::kOther:
      break;
  }
  if (base_id == EVP_PKEY_EC) {
    const std::string group = EcGroupName(pkey);
    return absl::InvalidArgumentError(
        absl::StrCat("ec key on curve ", group.empty() ? "(unknown)" : group,
                     " is not allowed (want p-256 or p-384)"));
  }
  const char* type = EVP_PKEY_get0_type_name(pkey);
  return absl::InvalidArgumentError(absl::StrCat(
      "key algorithm ", absl::AsciiStrToLower(type == nullptr ? "(unknown)" : type),
      " of ", EVP_PKEY_get_bits(pkey), " bits is not allowed (want rsa >= 2048, ec p-256, "
      "ec p-384 or ed25519)"));
}

absl::StatusOr<absl::string_view> TbsCertificateOf(absl::string_view der) {
  // One DER TLV header: tag, then a definite length (short or long form,
  // at most 4 length bytes). Returns the header size and content length.
  auto header = [](absl::string_view in, unsigned char tag, size_t* header_size,
                   size_t* length) -> bool {
    if (in.size() < 2 || static_cast<unsigned char>(in[0]) != tag) return false;
    const auto first = static_cast<unsigned char>(in[1]);
    if (first < 0x80) {
      *header_size = 2;
      *length = first;
    } else {
      const size_t n = first & 0x7f;
      if (n == 0 || n > 4 || in.size() < 2 + n) return false;
      size_t len = 0;
      for (size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(in[2 + i]);
      *header_size = 2 + n;
      *length = len;
    }
    return *length <= in.size() - *header_size;
  };
  constexpr unsigned char kSequence = 0x30;
  size_t outer_header = 0, outer_length = 0;
  if (!header(der, kSequence, &outer_header, &outer_length)) {
    return absl::InvalidArgumentError("certificate: der is not a sequence");
  }
  absl::string_view body = der.substr(outer_header, outer_length);
  size_t tbs_header = 0, tbs_length = 0;
  if (!header(body, kSequence, &tbs_header, &tbs_length)) {
    return absl::InvalidArgumentError("certificate: der has no tbs certificate");
  }
  return body.substr(0, tbs_header + tbs_length);
}

absl::StatusOr<std::string> CanonicalSerialHex(absl::string_view hex) {
  std::string digits;
  bool negative = false;
  if (!hex.empty() && hex.front() == '-') {
    negative = true;
    hex.remove_prefix(1);
  }
  for (char c : hex) {
    if (c == ':') continue;
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError("serial: must be hex digits (':' separators allowed)");
    }
    digits.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  if (digits.empty()) return absl::InvalidArgumentError("serial: must not be empty");
  const size_t first = digits.find_first_not_of('0');
  digits = first == std::string::npos ? "0" : digits.substr(first);
  if (digits.size() > 64) {
    return absl::InvalidArgumentError("serial: more than 64 hex digits");
  }
  if (digits == "0") negative = false;
  return negative ? absl::StrCat("-", digits) : digits;
}

namespace {

// The certificate's own SubjectPublicKeyInfo DER when it already is in the
// canonical form: an EC key on a named curve with an uncompressed point, or
// an Ed25519 key (which has one encoding). Empty otherwise. Encoding the
// X509_PUBKEY is plain ASN.1, much cheaper than OpenSSL's key encoders.
std::string CanonicalCertificateSpki(X509* x509) {
  X509_PUBKEY* spki = X509_get_X509_PUBKEY(x509);
  ASN1_OBJECT* algorithm = nullptr;
  const unsigned char* key = nullptr;
  int key_len = 0;
  X509_ALGOR* params = nullptr;
  if (spki == nullptr || X509_PUBKEY_get0_param(&algorithm, &key, &key_len, &params, spki) != 1) {
    return "";
  }
  const int nid = OBJ_obj2nid(algorithm);
  bool canonical = nid == NID_ED25519;
  if (nid == NID_X9_62_id_ecPublicKey && params != nullptr && key_len > 0 && key[0] == 0x04) {
    int param_type = V_ASN1_UNDEF;
    X509_ALGOR_get0(nullptr, &param_type, nullptr, params);
    canonical = param_type == V_ASN1_OBJECT;
  }
  if (!canonical) return "";
  return EncodeDer(i2d_X509_PUBKEY, spki);
}

// SubjectPublicKeyInfo of `pkey` in one canonical form: EC keys as a named
// curve with an uncompressed point; other keys as OpenSSL writes them.
std::string CanonicalSpkiDer(const EVP_PKEY* pkey) {
  if (pkey == nullptr) return "";
  EvpPkeyPtr copy;
  if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_EC) {
    copy.reset(EVP_PKEY_dup(const_cast<EVP_PKEY*>(pkey)));
    if (copy == nullptr) return "";
    EVP_PKEY_set_utf8_string_param(copy.get(), OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
    EVP_PKEY_set_utf8_string_param(copy.get(), OSSL_PKEY_PARAM_EC_ENCODING,
                                   OSSL_PKEY_EC_ENCODING_GROUP);
    pkey = copy.get();
  }
  return EncodeDer(i2d_PUBKEY, pkey);
}

}  // namespace

Certificate::Certificate(std::shared_ptr<X509> x509, std::string der)
    : x509_(std::move(x509)), der_(std::move(der)), sha256_hex_(HexEncode(pki::Sha256(der_))) {
  // Both are set for every certificate that parsed; an empty value never
  // equals a revocation key (64 hex characters).
  if (absl::StatusOr<absl::string_view> tbs = TbsCertificateOf(der_); tbs.ok()) {
    tbs_sha256_hex_ = HexEncode(pki::Sha256(*tbs));
  }
  std::string spki = CanonicalCertificateSpki(x509_.get());
  if (spki.empty()) spki = CanonicalSpkiDer(X509_get0_pubkey(x509_.get()));
  if (!spki.empty()) spki_sha256_hex_ = HexEncode(pki::Sha256(spki));
}

absl::StatusOr<Certificate> Certificate::FromPem(absl::string_view pem) {
  TF_ASSIGN_OR_RETURN(std::vector<Certificate> certs, ParsePemBundle(pem));
  if (certs.size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pem: expected exactly one certificate, got ", certs.size()));
  }
  return std::move(certs[0]);
}

absl::StatusOr<Certificate> Certificate::FromDer(absl::string_view der) {
  if (der.empty()) return absl::InvalidArgumentError("certificate: empty der");
  if (der.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate: der of ", der.size(), " bytes exceeds the limit of ", kMaxPemBytes));
  }
  size_t consumed = 0;
  X509Ptr x509(DecodeDer(d2i_X509, der, &consumed));
  if (x509 == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate: der does not decode (", ConsumeOpenSslError("malformed"), ")"));
  }
  if (consumed != der.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "certificate: ", der.size() - consumed, " trailing bytes after the der structure"));
  }
  // Re-encoding must reproduce the input: OpenSSL accepts some non-DER
  // (BER) encodings whose fingerprint would then differ from what peers hash.
  const int len = i2d_X509(x509.get(), nullptr);
  if (len <= 0 || static_cast<size_t>(len) != der.size()) {
    return absl::InvalidArgumentError("certificate: not in canonical der form");
  }
  std::shared_ptr<X509> shared(std::move(x509));
  return Certificate(std::move(shared), std::string(der));
}

Certificate Certificate::FromX509(X509* x509) {
  X509_up_ref(x509);
  X509Ptr owned(x509);
  std::string der = EncodeDer(i2d_X509, owned.get());
  std::shared_ptr<X509> shared(std::move(owned));
  return Certificate(std::move(shared), std::move(der));
}

std::string Certificate::ToPem() const { return PemEncode("CERTIFICATE", der_); }

std::string Certificate::Sha256() const { return pki::Sha256(der_); }
std::string Certificate::Sha1() const { return pki::Sha1(der_); }

std::vector<std::string> Certificate::DnsNames() const { return AltNames(get(), GEN_DNS); }
std::vector<std::string> Certificate::UriNames() const { return AltNames(get(), GEN_URI); }

std::string Certificate::Subject() const { return NameToString(X509_get_subject_name(get())); }
std::string Certificate::Issuer() const { return NameToString(X509_get_issuer_name(get())); }

std::string Certificate::SerialHex() const {
  const ASN1_INTEGER* serial = X509_get0_serialNumber(get());
  if (serial == nullptr) return "";
  const std::string magnitude(reinterpret_cast<const char*>(ASN1_STRING_get0_data(serial)),
                              static_cast<size_t>(ASN1_STRING_length(serial)));
  const bool negative = ASN1_STRING_type(serial) == V_ASN1_NEG_INTEGER;
  return absl::StrCat(negative ? "-" : "", HexEncode(magnitude));
}

absl::Time Certificate::NotBefore() const { return Asn1TimeToAbsl(X509_get0_notBefore(get())); }
absl::Time Certificate::NotAfter() const { return Asn1TimeToAbsl(X509_get0_notAfter(get())); }

bool Certificate::IsCa() const {
  const uint32_t flags = X509_get_extension_flags(get());
  return (flags & EXFLAG_BCONS) != 0 && (flags & EXFLAG_CA) != 0;
}

bool Certificate::IsSelfSigned() const { return X509_self_signed(get(), 1) == 1; }

KeyAlgorithm Certificate::key_algorithm() const { return KeyAlgorithmOf(X509_get0_pubkey(get())); }
int Certificate::key_bits() const { return KeyBitsOf(X509_get0_pubkey(get())); }

absl::Status Certificate::CheckKeyStrength() const {
  return pki::CheckKeyStrength(X509_get0_pubkey(get()));
}

absl::StatusOr<std::vector<Certificate>> ParsePemBundle(absl::string_view pem) {
  TF_ASSIGN_OR_RETURN(std::vector<PemBlock> blocks, ScanPem(pem));
  std::vector<Certificate> certs;
  certs.reserve(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    const PemBlock& block = blocks[i];
    const std::string where = absl::StrCat("pem block ", i + 1, ": ");
    if (block.label != "CERTIFICATE") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, DescribePemLabel(block.label), " is not a certificate"));
    }
    absl::StatusOr<std::string> der = DecodePemBody(block);
    if (!der.ok()) return absl::InvalidArgumentError(absl::StrCat(where, der.status().message()));
    absl::StatusOr<Certificate> cert = Certificate::FromDer(*der);
    if (!cert.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(where, cert.status().message()));
    }
    certs.push_back(*std::move(cert));
  }
  return certs;
}

std::string ToPemBundle(const std::vector<Certificate>& certs) {
  std::string out;
  for (const Certificate& c : certs) out += c.ToPem();
  return out;
}

absl::Time Asn1TimeToAbsl(const ASN1_TIME* t) {
  struct tm tm = {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return absl::InfinitePast();
  return absl::FromCivil(absl::CivilSecond(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                                           tm.tm_hour, tm.tm_min, tm.tm_sec),
                         absl::UTCTimeZone());
}

}  // namespace trustfabric::pki
