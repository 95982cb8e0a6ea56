// X.509 certificates and PEM bundles.
//
// A Certificate is an immutable value: copies share one X509 (reference
// counted), so it can be stored in snapshots and passed between threads.
//
//   TF_ASSIGN_OR_RETURN(std::vector<pki::Certificate> chain,
//                       pki::ParsePemBundle(pem_text));
//   std::string fp = chain[0].Sha256Hex();
//   std::vector<std::string> uris = chain[0].UriNames();
#ifndef TRUSTFABRIC_COMMON_PKI_CERTIFICATE_H_
#define TRUSTFABRIC_COMMON_PKI_CERTIFICATE_H_

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct asn1_string_st ASN1_TIME;

namespace trustfabric::pki {

// Largest PEM input any parser accepts (a bundle of many certificates fits).
inline constexpr size_t kMaxPemBytes = 1 << 20;

// Public-key algorithm of a certificate or private key.
enum class KeyAlgorithm { kRsa, kEcP256, kEcP384, kEd25519, kOther };

// "rsa", "ec p-256", "ec p-384", "ed25519", "other".
absl::string_view KeyAlgorithmName(KeyAlgorithm algorithm);
// Algorithm and size (as Certificate::key_bits) of any public or private key;
// kOther / 0 for null.
KeyAlgorithm KeyAlgorithmOf(const EVP_PKEY* pkey);
int KeyBitsOf(const EVP_PKEY* pkey);
// The one key-strength rule (docs/design.md §3): RSA >= 2048 bits, EC P-256 or
// P-384, Ed25519. INVALID_ARGUMENT naming the algorithm and size otherwise,
// e.g. "rsa key of 1024 bits is below the minimum of 2048".
absl::Status CheckKeyStrength(const EVP_PKEY* pkey);

class Certificate {
 public:
  // Exactly one PEM "CERTIFICATE" block (surrounding whitespace allowed);
  // the rules of ParsePemBundle apply.
  static absl::StatusOr<Certificate> FromPem(absl::string_view pem);
  // DER bytes; trailing bytes after the structure, non-canonical encodings
  // and input over kMaxPemBytes are rejected.
  static absl::StatusOr<Certificate> FromDer(absl::string_view der);
  // Takes a reference on `x509` (X509_up_ref); does not take ownership.
  // REQUIRES: x509 != nullptr.
  static Certificate FromX509(X509* x509);

  // The underlying object; valid as long as any copy of this Certificate.
  X509* get() const { return x509_.get(); }

  const std::string& der() const { return der_; }
  std::string ToPem() const;

  // SHA-256 of this DER encoding, lower-case hex: what `openssl x509
  // -fingerprint -sha256` prints. Not a revocation key on its own: the
  // signature of an ECDSA certificate can be re-encoded without the key
  // ((r, s) as (r, n - s)), which gives the same certificate another DER
  // encoding and another hash.
  const std::string& Sha256Hex() const { return sha256_hex_; }
  // SHA-256 of the signed body (the DER TBSCertificate exactly as signed),
  // lower-case hex: the same for every encoding of the certificate.
  const std::string& TbsSha256Hex() const { return tbs_sha256_hex_; }
  // SHA-256 of the DER SubjectPublicKeyInfo, lower-case hex, with EC keys
  // written as a named curve and an uncompressed point (so one key has one
  // hash however a certificate encodes it). For the usual encodings this is
  //   openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum
  const std::string& SpkiSha256Hex() const { return spki_sha256_hex_; }
  // Raw SHA-256 / SHA-1 digests of the DER (for x5t#S256 / x5t).
  std::string Sha256() const;
  std::string Sha1() const;

  // Subject Alternative Names of the given type, in certificate order.
  std::vector<std::string> DnsNames() const;
  std::vector<std::string> UriNames() const;

  // One-line RFC 2253 forms, e.g. "CN=fe1.contoso.test,O=contoso.test".
  std::string Subject() const;
  std::string Issuer() const;
  // The serial number's magnitude bytes in lower-case hex ("-" first when
  // negative), as encoded: may start with "0". CanonicalSerialHex of it is
  // the form revocations use.
  std::string SerialHex() const;

  absl::Time NotBefore() const;
  absl::Time NotAfter() const;

  // basicConstraints CA:TRUE.
  bool IsCa() const;
  // Subject == issuer and the signature verifies with its own key.
  bool IsSelfSigned() const;

  KeyAlgorithm key_algorithm() const;
  // Key size in bits (RSA modulus, EC field size, 256 for Ed25519).
  int key_bits() const;
  // OK for RSA >= 2048 bits, EC P-256/P-384, Ed25519; INVALID_ARGUMENT
  // naming the algorithm and size otherwise.
  absl::Status CheckKeyStrength() const;

  friend bool operator==(const Certificate& a, const Certificate& b) {
    return a.der_ == b.der_;
  }
  friend bool operator!=(const Certificate& a, const Certificate& b) { return !(a == b); }

 private:
  Certificate(std::shared_ptr<X509> x509, std::string der);

  std::shared_ptr<X509> x509_;
  std::string der_;
  std::string sha256_hex_;
  std::string tbs_sha256_hex_;
  std::string spki_sha256_hex_;
};

// A serial number in hex as operators copy it (`openssl x509 -serial`:
// upper or lower case, ':' separators, leading zeros, optional "-") in the
// canonical form: lower case, no separators, no leading zeros, "0" for
// zero, "-" first when negative. INVALID_ARGUMENT when empty, longer than
// 64 digits or not hex.
absl::StatusOr<std::string> CanonicalSerialHex(absl::string_view hex);

// The TBSCertificate of a DER certificate, as a view into `der`: the first
// element of the outer SEQUENCE, tag and length included. INVALID_ARGUMENT
// when `der` does not start with such a structure.
absl::StatusOr<absl::string_view> TbsCertificateOf(absl::string_view der);

// Parses one or more PEM certificates. Rejects (INVALID_ARGUMENT, message
// naming the block number and reason): empty input, input over kMaxPemBytes,
// a block that is not "CERTIFICATE" (e.g. "pem block 2: private key is not a
// certificate"), a block that does not decode, text outside blocks other
// than whitespace ("pem: trailing garbage after block 1"), and a truncated
// block ("pem block 1: truncated ...").
absl::StatusOr<std::vector<Certificate>> ParsePemBundle(absl::string_view pem);

// PEM encoding of several certificates, in order.
std::string ToPemBundle(const std::vector<Certificate>& certs);

// Converts an ASN1_TIME to absl::Time; InfinitePast for null or malformed.
absl::Time Asn1TimeToAbsl(const ASN1_TIME* t);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_CERTIFICATE_H_
