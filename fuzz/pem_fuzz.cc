// Fuzz target: the PEM scanner and certificate parsing (common/pki) on
// arbitrary bytes: every certificate that parses gives its fingerprints
// (body, key, DER), names, SANs and SPIFFE IDs without failing, and its
// signed body lies inside its DER.
//
//   ninja -C build-fuzz pem_fuzz && build-fuzz/fuzz/pem_fuzz fuzz/corpus/pem
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/pki/certificate.h"
#include "common/pki/pem.h"
#include "common/pki/spiffe.h"

namespace pki = trustfabric::pki;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<pki::PemBlock>> blocks = pki::ScanPem(text);
  if (blocks.ok()) {
    for (const pki::PemBlock& block : *blocks) (void)pki::DecodePemBody(block);
  }
  absl::StatusOr<std::vector<pki::Certificate>> certs = pki::ParsePemBundle(text);
  if (!certs.ok()) return 0;
  for (const pki::Certificate& c : *certs) {
    absl::StatusOr<absl::string_view> tbs = pki::TbsCertificateOf(c.der());
    if (!tbs.ok() || tbs->empty() || tbs->size() >= c.der().size()) std::abort();
    if (c.Sha256Hex().size() != 64 || c.TbsSha256Hex().size() != 64) std::abort();
    (void)c.SpkiSha256Hex();
    (void)c.Subject();
    (void)c.Issuer();
    (void)pki::CanonicalSerialHex(c.SerialHex());
    for (const std::string& dns : c.DnsNames()) (void)dns.size();
    for (const std::string& uri : c.UriNames()) (void)pki::ParseSpiffeId(uri);
  }
  return 0;
}
