// Start-up check of a node's identity files, so that a wrong path or a
// mismatched key fails loudly once instead of failing every handshake.
//
//   TF_RETURN_IF_ERROR(tls::CheckIdentityFiles(cert_file, key_file));
#ifndef TRUSTFABRIC_COMMON_TLS_IDENTITY_FILES_H_
#define TRUSTFABRIC_COMMON_TLS_IDENTITY_FILES_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/pki/certificate.h"

namespace trustfabric::tls {

// Reads a file of at most pki::kMaxPemBytes; INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view field);

// OK when `certificate_file` holds a PEM chain whose first certificate
// matches the key in `key_file`; returns that chain. INVALID_ARGUMENT
// naming identity.certificate_file / identity.key_file otherwise.
absl::StatusOr<std::vector<pki::Certificate>> CheckIdentityFiles(
    const std::string& certificate_file, const std::string& key_file);

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_IDENTITY_FILES_H_
