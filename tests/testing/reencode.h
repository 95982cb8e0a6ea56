// Re-encoding a certificate without its issuer's key: the attack a
// revocation keyed on the DER hash cannot stop (docs/design.md §3).
//
// An ECDSA signature (r, s) is equally valid as (r, n - s), n the order of
// the signer's curve. Rewriting it gives the same certificate (same signed
// body, same key, same issuer and serial, still verifying under the issuer)
// with another DER encoding and so another SHA-256 of the DER.
//
//   absl::StatusOr<std::string> der =
//       testing::ReencodeEcdsaSignature(leaf.certificate.der());
//   pki::Certificate twin = *pki::Certificate::FromDer(*der);
//   // twin.Sha256Hex() != leaf.certificate.Sha256Hex(), same TbsSha256Hex()
#ifndef TRUSTFABRIC_TESTS_TESTING_REENCODE_H_
#define TRUSTFABRIC_TESTS_TESTING_REENCODE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::testing {

// The DER certificate `certificate_der` with its ECDSA signature (r, s)
// rewritten as (r, n - s); every other byte of the signed body and the
// signature algorithm is kept. The curve (P-256, P-384 or P-521) is the
// smallest whose order bounds r and s: both are uniform below n, so a
// signature of a larger curve is taken for a smaller one with probability
// below 2^-250. INVALID_ARGUMENT when the input is not a DER certificate or
// its signature is not an ECDSA signature.
absl::StatusOr<std::string> ReencodeEcdsaSignature(absl::string_view certificate_der);

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_TESTING_REENCODE_H_
