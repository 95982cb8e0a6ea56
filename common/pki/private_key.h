// Private keys: loading (PEM, encrypted PEM, PKCS#12), generation, export.
//
//   TF_ASSIGN_OR_RETURN(pki::PrivateKey key,
//                       pki::PrivateKey::FromPem(pem, /*passphrase=*/""));
//   TF_ASSIGN_OR_RETURN(pki::Pkcs12Contents p12,
//                       pki::ParsePkcs12(der_bytes, "password"));
#ifndef TRUSTFABRIC_COMMON_PKI_PRIVATE_KEY_H_
#define TRUSTFABRIC_COMMON_PKI_PRIVATE_KEY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/pki/certificate.h"

typedef struct evp_pkey_st EVP_PKEY;

namespace trustfabric::pki {

// Key types the development PKI generates.
enum class KeyType { kEcP256, kEcP384, kRsa2048, kRsa3072, kEd25519 };

class PrivateKey {
 public:
  // PEM private key (PKCS#8, traditional RSA/EC, or encrypted PKCS#8 when
  // `passphrase` is non-empty). INVALID_ARGUMENT on empty or oversized input,
  // more than one block, wrong passphrase ("wrong passphrase or corrupt
  // key"), or a non-key block; never echoes the input.
  static absl::StatusOr<PrivateKey> FromPem(absl::string_view pem,
                                            absl::string_view passphrase = "");
  static absl::StatusOr<PrivateKey> Generate(KeyType type);
  // RSA of any size >= 512 bits (tests use weak keys on purpose).
  static absl::StatusOr<PrivateKey> GenerateRsa(int bits);
  // Takes a reference on `pkey`. REQUIRES: pkey != nullptr.
  static PrivateKey FromEvpPkey(EVP_PKEY* pkey);

  EVP_PKEY* get() const { return pkey_.get(); }
  KeyAlgorithm algorithm() const;
  int bits() const;

  // Unencrypted PKCS#8 PEM, or encrypted (AES-256-CBC) with a passphrase.
  std::string ToPem(absl::string_view passphrase = "") const;
  // Whether `cert` carries this key's public half.
  bool Matches(const Certificate& cert) const;

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> pkey) : pkey_(std::move(pkey)) {}
  std::shared_ptr<EVP_PKEY> pkey_;
};

// What a PKCS#12 file holds: the key, its certificate, and any other
// certificates (chain).
struct Pkcs12Contents {
  PrivateKey key;
  Certificate certificate;
  std::vector<Certificate> chain;
};

// INVALID_ARGUMENT on a wrong password ("wrong pkcs#12 password"), a
// malformed file, or a file without a key or certificate.
absl::StatusOr<Pkcs12Contents> ParsePkcs12(absl::string_view der,
                                           absl::string_view password);
// DER PKCS#12 with AES-256 encryption and the given password.
absl::StatusOr<std::string> MakePkcs12(const PrivateKey& key, const Certificate& cert,
                                       const std::vector<Certificate>& chain,
                                       absl::string_view password);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_PRIVATE_KEY_H_
