// Private key loading, generation and PKCS#12; see private_key.h.
#include "common/pki/private_key.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>

#include <climits>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/pki/openssl_ptr.h"
#include "common/pki/pem.h"
#include "common/status/status.h"

namespace trustfabric::pki {
namespace {

// Upper bound for passwords handed to OpenSSL's int-length APIs.
constexpr size_t kMaxPasswordBytes = 1024;

struct PassphraseSource {
  absl::string_view passphrase;
  bool asked = false;
};

// Always installed, so that OpenSSL never falls back to prompting on the
// terminal for an encrypted key.
int PassphraseCallback(char* buf, int size, int /*rwflag*/, void* u) {
  auto* source = static_cast<PassphraseSource*>(u);
  source->asked = true;
  if (source->passphrase.empty() || size <= 0 ||
      source->passphrase.size() > static_cast<size_t>(size)) {
    return -1;
  }
  std::memcpy(buf, source->passphrase.data(), source->passphrase.size());
  return static_cast<int>(source->passphrase.size());
}

bool IsPrivateKeyLabel(absl::string_view label) {
  return label == "PRIVATE KEY" || label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY" ||
         label == "ENCRYPTED PRIVATE KEY";
}

std::string BioContents(BIO* bio) {
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return "";
  return std::string(data, static_cast<size_t>(len));
}

absl::Status CheckPassword(absl::string_view password, absl::string_view what) {
  if (password.size() > kMaxPasswordBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": longer than ", kMaxPasswordBytes, " bytes"));
  }
  if (password.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": contains a nul byte"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PrivateKey> PrivateKey::FromPem(absl::string_view pem,
                                               absl::string_view passphrase) {
  TF_RETURN_IF_ERROR(CheckPassword(passphrase, "private key passphrase"));
  absl::StatusOr<std::vector<PemBlock>> blocks = ScanPem(pem);
  if (!blocks.ok()) return Annotate(blocks.status(), "private key");
  if (blocks->size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("private key: expected one pem block, got ", blocks->size()));
  }
  const PemBlock& block = (*blocks)[0];
  if (!IsPrivateKeyLabel(block.label)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "private key: pem block 1: ", DescribePemLabel(block.label), " is not a private key"));
  }
  const bool encrypted = block.label == "ENCRYPTED PRIVATE KEY" ||
                         block.body.find("ENCRYPTED") != absl::string_view::npos;
  if (encrypted && passphrase.empty()) {
    return absl::InvalidArgumentError("private key: encrypted key needs a passphrase");
  }
  BioPtr bio(BIO_new_mem_buf(block.text.data(), static_cast<int>(block.text.size())));
  if (bio == nullptr) return absl::ResourceExhaustedError("private key: out of memory");
  PassphraseSource source{passphrase};
  EvpPkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, PassphraseCallback, &source));
  if (pkey == nullptr) {
    ERR_clear_error();
    if (encrypted) {
      return absl::InvalidArgumentError("private key: wrong passphrase or corrupt key");
    }
    return absl::InvalidArgumentError("private key: pem block 1: key does not decode");
  }
  return FromEvpPkey(pkey.get());
}

absl::StatusOr<PrivateKey> PrivateKey::Generate(KeyType type) {
  EvpPkeyPtr pkey;
  switch (type) {
    case KeyType::kEcP256:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      break;
    case KeyType::kEcP384:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"));
      break;
    case KeyType::kRsa2048:
      return GenerateRsa(2048);
    case KeyType::kRsa3072:
      return GenerateRsa(3072);
    case KeyType::kEd25519:
      pkey.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
      break;
  }
  if (pkey == nullptr) {
    return absl::InternalError(
        absl::StrCat("key generation failed: ", ConsumeOpenSslError("unknown error")));
  }
  return FromEvpPkey(pkey.get());
}

absl::StatusOr<PrivateKey> PrivateKey::GenerateRsa(int bits) {
  if (bits < 512 || bits > 16384) {
    return absl::InvalidArgumentError(
        absl::StrCat("rsa key size ", bits, " is outside 512..16384 bits"));
  }
  EvpPkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
  if (pkey == nullptr) {
    return absl::InternalError(
        absl::StrCat("rsa key generation failed: ", ConsumeOpenSslError("unknown error")));
  }
  return FromEvpPkey(pkey.get());
}

PrivateKey PrivateKey::FromEvpPkey(EVP_PKEY* pkey) {
  EVP_PKEY_up_ref(pkey);
  EvpPkeyPtr owned(pkey);
  return PrivateKey(std::shared_ptr<EVP_PKEY>(std::move(owned)));
}

KeyAlgorithm PrivateKey::algorithm() const { return KeyAlgorithmOf(get()); }
int PrivateKey::bits() const { return KeyBitsOf(get()); }

std::string PrivateKey::ToPem(absl::string_view passphrase) const {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return "";
  int ok;
  if (passphrase.empty()) {
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), get(), nullptr, nullptr, 0, nullptr,
                                       nullptr);
  } else {
    if (passphrase.size() > kMaxPasswordBytes) return "";
    ok = PEM_write_bio_PKCS8PrivateKey(bio.get(), get(), EVP_aes_256_cbc(), passphrase.data(),
                                       static_cast<int>(passphrase.size()), nullptr, nullptr);
  }
  if (ok != 1) {
    ERR_clear_error();
    return "";
  }
  return BioContents(bio.get());
}

bool PrivateKey::Matches(const Certificate& cert) const {
  const EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  return pub != nullptr && EVP_PKEY_eq(get(), pub) == 1;
}

absl::StatusOr<Pkcs12Contents> ParsePkcs12(absl::string_view der, absl::string_view password) {
  TF_RETURN_IF_ERROR(CheckPassword(password, "pkcs#12 password"));
  if (der.empty()) return absl::InvalidArgumentError("pkcs#12: empty input");
  if (der.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pkcs#12: input of ", der.size(), " bytes exceeds the limit of ", kMaxPemBytes));
  }
  size_t consumed = 0;
  Pkcs12Ptr p12(DecodeDer(d2i_PKCS12, der, &consumed));
  if (p12 == nullptr) {
    ERR_clear_error();
    return absl::InvalidArgumentError("pkcs#12: malformed file");
  }
  if (consumed != der.size()) {
    return absl::InvalidArgumentError("pkcs#12: trailing bytes after the structure");
  }
  // A string_view is not NUL-terminated; the OpenSSL APIs want a C string.
  const std::string pass(password);
  // An empty password may have been applied as "no password" (NULL) or as
  // the empty string; PKCS12_parse accepts either, so the MAC check does too.
  const char* parse_pass = pass.c_str();
  if (PKCS12_mac_present(p12.get())) {
    bool mac_ok =
        PKCS12_verify_mac(p12.get(), pass.c_str(), static_cast<int>(pass.size())) == 1;
    if (!mac_ok && pass.empty() && PKCS12_verify_mac(p12.get(), nullptr, 0) == 1) {
      mac_ok = true;
      parse_pass = nullptr;
    }
    if (!mac_ok) {
      ERR_clear_error();
      return absl::InvalidArgumentError("wrong pkcs#12 password");
    }
  }
  EVP_PKEY* raw_key = nullptr;
  X509* raw_cert = nullptr;
  STACK_OF(X509)* raw_ca = nullptr;
  const int ok = PKCS12_parse(p12.get(), parse_pass, &raw_key, &raw_cert, &raw_ca);
  EvpPkeyPtr key(raw_key);
  X509Ptr cert(raw_cert);
  X509StackPtr ca(raw_ca);
  if (ok != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("wrong pkcs#12 password or corrupt file");
  }
  if (key == nullptr) return absl::InvalidArgumentError("pkcs#12: no private key");
  if (cert == nullptr) return absl::InvalidArgumentError("pkcs#12: no certificate");
  Pkcs12Contents contents{PrivateKey::FromEvpPkey(key.get()), Certificate::FromX509(cert.get()),
                          {}};
  if (!contents.key.Matches(contents.certificate)) {
    return absl::InvalidArgumentError("pkcs#12: private key does not match the certificate");
  }
  for (int i = 0; ca != nullptr && i < sk_X509_num(ca.get()); ++i) {
    contents.chain.push_back(Certificate::FromX509(sk_X509_value(ca.get(), i)));
  }
  return contents;
}

absl::StatusOr<std::string> MakePkcs12(const PrivateKey& key, const Certificate& cert,
                                       const std::vector<Certificate>& chain,
                                       absl::string_view password) {
  TF_RETURN_IF_ERROR(CheckPassword(password, "pkcs#12 password"));
  if (password.empty()) return absl::InvalidArgumentError("pkcs#12 password: empty");
  if (!key.Matches(cert)) {
    return absl::InvalidArgumentError("pkcs#12: private key does not match the certificate");
  }
  X509StackPtr ca(sk_X509_new_null());
  if (ca == nullptr) return absl::ResourceExhaustedError("pkcs#12: out of memory");
  for (const Certificate& c : chain) {
    X509_up_ref(c.get());
    X509Ptr ref(c.get());
    if (sk_X509_push(ca.get(), ref.get()) <= 0) {
      return absl::ResourceExhaustedError("pkcs#12: out of memory");
    }
    static_cast<void>(ref.release());  // now owned by `ca`
  }
  const std::string pass(password);
  Pkcs12Ptr p12(PKCS12_create(pass.c_str(), nullptr, key.get(), cert.get(), ca.get(),
                              NID_aes_256_cbc, NID_aes_256_cbc, PKCS12_DEFAULT_ITER,
                              PKCS12_DEFAULT_ITER, 0));
  if (p12 == nullptr) {
    return absl::InternalError(
        absl::StrCat("pkcs#12: creation failed: ", ConsumeOpenSslError("unknown error")));
  }
  std::string out = EncodeDer(i2d_PKCS12, p12.get());
  if (out.empty()) return absl::InternalError("pkcs#12: encoding failed");
  return out;
}

}  // namespace trustfabric::pki
