// PEM block scanning shared by the certificate and private-key parsers.
//
// The scanner checks the structure of PEM text (BEGIN/END pairs, nothing but
// whitespace between blocks) and reports problems by block number, so that
// callers never hand raw text to OpenSSL's permissive PEM reader unchecked:
//
//   TF_ASSIGN_OR_RETURN(std::vector<pki::PemBlock> blocks, pki::ScanPem(text));
//   if (blocks[0].label != "CERTIFICATE") ...
#ifndef TRUSTFABRIC_COMMON_PKI_PEM_H_
#define TRUSTFABRIC_COMMON_PKI_PEM_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::pki {

struct PemBlock {
  std::string label;       // e.g. "CERTIFICATE", "PRIVATE KEY"
  absl::string_view text;  // the whole block, BEGIN line to END line
  absl::string_view body;  // between the BEGIN and END lines
  // RFC 1421 headers such as "Proc-Type: 4,ENCRYPTED" precede the base64.
  bool has_headers = false;
};

// Splits `pem` into blocks; the views point into `pem`. INVALID_ARGUMENT
// ("pem: ..." or "pem block N: ...") on empty or oversized (kMaxPemBytes)
// input, text outside blocks, a truncated block or mismatched END line.
absl::StatusOr<std::vector<PemBlock>> ScanPem(absl::string_view pem);

// The DER inside a block without headers; INVALID_ARGUMENT on bad base64.
absl::StatusOr<std::string> DecodePemBody(const PemBlock& block);

// "-----BEGIN <label>-----", base64 in 64-column lines, "-----END <label>-----".
std::string PemEncode(absl::string_view label, absl::string_view der);

// What a block with this label holds, for messages: "private key",
// "certificate request", ...; a quoted short label otherwise.
std::string DescribePemLabel(absl::string_view label);

}  // namespace trustfabric::pki

#endif  // TRUSTFABRIC_COMMON_PKI_PEM_H_
