// Re-encoding of ECDSA certificate signatures; see reencode.h.
#include "tests/testing/reencode.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstddef>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/pki/openssl_ptr.h"

namespace trustfabric::testing {
namespace {

using EcGroupPtr = pki::OpenSslPtr<EC_GROUP, EC_GROUP_free>;

// One DER element: tag, the whole encoding, and its content.
struct Element {
  unsigned char tag = 0;
  absl::string_view whole;
  absl::string_view content;
};

// Reads the element at the front of `*in` and removes it from `*in`.
bool ReadElement(absl::string_view* in, Element* out) {
  if (in->size() < 2) return false;
  const auto first = static_cast<unsigned char>((*in)[1]);
  size_t header = 2;
  size_t length = first;
  if (first >= 0x80) {
    const size_t n = first & 0x7f;
    if (n == 0 || n > 4 || in->size() < 2 + n) return false;
    length = 0;
    for (size_t i = 0; i < n; ++i) length = (length << 8) | static_cast<unsigned char>((*in)[2 + i]);
    header = 2 + n;
  }
  if (length > in->size() - header) return false;
  out->tag = static_cast<unsigned char>((*in)[0]);
  out->whole = in->substr(0, header + length);
  out->content = in->substr(header, length);
  in->remove_prefix(header + length);
  return true;
}

std::string Encode(unsigned char tag, absl::string_view content) {
  std::string out(1, static_cast<char>(tag));
  const size_t length = content.size();
  if (length < 0x80) {
    out.push_back(static_cast<char>(length));
  } else {
    std::string bytes;
    for (size_t n = length; n > 0; n >>= 8) bytes.insert(bytes.begin(), static_cast<char>(n & 0xff));
    out.push_back(static_cast<char>(0x80 | bytes.size()));
    out += bytes;
  }
  out.append(content.data(), content.size());
  return out;
}

bool IsEcdsaSignature(int nid) {
  switch (nid) {
    case NID_ecdsa_with_SHA1:
    case NID_ecdsa_with_SHA224:
    case NID_ecdsa_with_SHA256:
    case NID_ecdsa_with_SHA384:
    case NID_ecdsa_with_SHA512:
      return true;
    default:
      return false;
  }
}

absl::Status Invalid(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("reencode: ", what));
}

}  // namespace

absl::StatusOr<std::string> ReencodeEcdsaSignature(absl::string_view certificate_der) {
  {
    const auto* p = reinterpret_cast<const unsigned char*>(certificate_der.data());
    pki::X509Ptr x509(d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size())));
    if (x509 == nullptr) return Invalid("not a der certificate");
    if (!IsEcdsaSignature(X509_get_signature_nid(x509.get()))) {
      return Invalid("the certificate is not signed with ecdsa");
    }
  }
  absl::string_view rest = certificate_der;
  Element certificate, tbs, algorithm, signature;
  if (!ReadElement(&rest, &certificate) || certificate.tag != 0x30 || !rest.empty()) {
    return Invalid("not a single der sequence");
  }
  absl::string_view body = certificate.content;
  if (!ReadElement(&body, &tbs) || !ReadElement(&body, &algorithm) ||
      !ReadElement(&body, &signature) || !body.empty() || tbs.tag != 0x30 ||
      algorithm.tag != 0x30 || signature.tag != 0x03 || signature.content.empty() ||
      signature.content[0] != 0) {
    return Invalid("not a certificate, algorithm, signature sequence");
  }
  absl::string_view sig_der = signature.content.substr(1);
  const auto* p = reinterpret_cast<const unsigned char*>(sig_der.data());
  pki::EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig_der.size())));
  if (sig == nullptr) return Invalid("the signature is not an ecdsa (r, s) sequence");
  const BIGNUM* r = ECDSA_SIG_get0_r(sig.get());
  const BIGNUM* s = ECDSA_SIG_get0_s(sig.get());

  const int bits = std::max(BN_num_bits(r), BN_num_bits(s));
  const int curve = bits <= 256   ? NID_X9_62_prime256v1
                    : bits <= 384 ? NID_secp384r1
                                  : NID_secp521r1;
  EcGroupPtr group(EC_GROUP_new_by_curve_name(curve));
  if (group == nullptr) return Invalid("cannot load the curve");
  const BIGNUM* order = EC_GROUP_get0_order(group.get());
  if (BN_is_zero(s) || BN_cmp(s, order) >= 0) return Invalid("s is not below the curve order");

  pki::BignumPtr new_r(BN_dup(r));
  pki::BignumPtr new_s(BN_new());
  if (new_r == nullptr || new_s == nullptr || BN_sub(new_s.get(), order, s) != 1) {
    return absl::ResourceExhaustedError("reencode: out of memory");
  }
  pki::EcdsaSigPtr rewritten(ECDSA_SIG_new());
  if (rewritten == nullptr || ECDSA_SIG_set0(rewritten.get(), new_r.get(), new_s.get()) != 1) {
    return absl::ResourceExhaustedError("reencode: out of memory");
  }
  static_cast<void>(new_r.release());  // owned by `rewritten` now
  static_cast<void>(new_s.release());
  const int length = i2d_ECDSA_SIG(rewritten.get(), nullptr);
  if (length <= 0) return absl::InternalError("reencode: cannot encode the signature");
  std::string encoded(static_cast<size_t>(length), '\0');
  auto* out = reinterpret_cast<unsigned char*>(encoded.data());
  if (i2d_ECDSA_SIG(rewritten.get(), &out) != length) {
    return absl::InternalError("reencode: cannot encode the signature");
  }
  std::string bit_string(1, '\0');  // no unused bits
  bit_string += encoded;
  return Encode(0x30, absl::StrCat(tbs.whole, algorithm.whole, Encode(0x03, bit_string)));
}

}  // namespace trustfabric::testing
