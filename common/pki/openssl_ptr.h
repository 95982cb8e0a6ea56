// Owning smart pointers for OpenSSL objects, and DER in and out of them.
//
// Every OpenSSL object the project holds is owned by one of these, so logic
// never calls a *_free function itself:
//
//   pki::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
//   pki::X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
//
// DER goes through OpenSSL's i2d/d2i functions in one place:
//
//   std::string der = pki::EncodeDer(i2d_X509, cert.get());  // "" on failure
//   size_t consumed = 0;
//   pki::X509Ptr back(pki::DecodeDer(d2i_X509, der, &consumed));
#ifndef TRUSTFABRIC_COMMON_PKI_OPENSSL_PTR_H_
#define TRUSTFABRIC_COMMON_PKI_OPENSSL_PTR_H_

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "absl/strings/string_view.h"

namespace trustfabric::pki {

template <typename T, void (*Free)(T*)>
struct OpenSslDeleter {
  void operator()(T* p) const { Free(p); }
};

template <typename T, void (*Free)(T*)>
using OpenSslPtr = std::unique_ptr<T, OpenSslDeleter<T, Free>>;

inline void FreeX509Stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
inline void FreeGeneralNames(GENERAL_NAMES* n) { GENERAL_NAMES_free(n); }
inline void FreeBio(BIO* b) { BIO_free_all(b); }

using X509Ptr = OpenSslPtr<X509, X509_free>;
using X509StorePtr = OpenSslPtr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = OpenSslPtr<X509_STORE_CTX, X509_STORE_CTX_free>;
using X509StackPtr = OpenSslPtr<STACK_OF(X509), FreeX509Stack>;
using X509NamePtr = OpenSslPtr<X509_NAME, X509_NAME_free>;
using X509ExtensionPtr = OpenSslPtr<X509_EXTENSION, X509_EXTENSION_free>;
using GeneralNamesPtr = OpenSslPtr<GENERAL_NAMES, FreeGeneralNames>;
using GeneralNamePtr = OpenSslPtr<GENERAL_NAME, GENERAL_NAME_free>;
using Asn1StringPtr = OpenSslPtr<ASN1_STRING, ASN1_STRING_free>;
using EvpPkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = OpenSslPtr<BIO, FreeBio>;
using BignumPtr = OpenSslPtr<BIGNUM, BN_free>;
using EcdsaSigPtr = OpenSslPtr<ECDSA_SIG, ECDSA_SIG_free>;
using Pkcs12Ptr = OpenSslPtr<PKCS12, PKCS12_free>;
using Asn1IntegerPtr = OpenSslPtr<ASN1_INTEGER, ASN1_INTEGER_free>;
using Asn1TimePtr = OpenSslPtr<ASN1_TIME, ASN1_TIME_free>;

// The DER encoding of `object` by OpenSSL's `i2d` function (i2d_X509,
// i2d_PUBKEY, ...); "" when OpenSSL cannot encode it.
template <typename T>
std::string EncodeDer(int (*i2d)(const T*, unsigned char**), const T* object) {
  const int len = i2d(object, nullptr);
  if (len <= 0) return "";
  std::string der(static_cast<size_t>(len), '\0');
  auto* p = reinterpret_cast<unsigned char*>(der.data());
  if (i2d(object, &p) != len) return "";
  return der;
}

// The object OpenSSL's `d2i` function (d2i_X509, d2i_PKCS12, ...) decodes
// from the start of `der`, to be owned by the caller's OpenSslPtr; null when
// it does not decode (OpenSSL's error queue says why). `*consumed` is set to
// the bytes it read, so the caller can refuse trailing bytes.
template <typename T>
T* DecodeDer(T* (*d2i)(T**, const unsigned char**, long), absl::string_view der, size_t* consumed) {
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  const unsigned char* const start = p;
  T* object = d2i(nullptr, &p, static_cast<long>(der.size()));
  *consumed = object != nullptr ? static_cast<size_t>(p - start) : 0;
  return object;
}

// The text of OpenSSL's most recent queued error (and clears the queue), or
// `fallback` when the queue is empty. Never contains key material.
std::string ConsumeOpenSslError(const std::string& fallback);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_OPENSSL_PTR_H_
