// Identity file checks; see identity_files.h.
#include "common/tls/identity_files.h"


#include "absl/strings/str_cat.h"
#include "common/pki/private_key.h"
#include "common/status/atomic_file.h"
#include "common/status/status.h"

namespace trustfabric::tls {

absl::StatusOr<std::string> ReadPemFile(const std::string& path, absl::string_view field) {
  absl::StatusOr<std::string> text = ReadFileLimited(path, pki::kMaxPemBytes);
  if (absl::IsInvalidArgument(text.status())) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, " is larger than 1 MiB"));
  }
  if (!text.ok()) return absl::InvalidArgumentError(absl::StrCat(field, ": cannot read ", path));
  return text;
}

absl::StatusOr<std::vector<pki::Certificate>> CheckIdentityFiles(
    const std::string& certificate_file, const std::string& key_file) {
  TF_ASSIGN_OR_RETURN(std::string cert_pem,
                      ReadPemFile(certificate_file, "identity.certificate_file"));
  TF_ASSIGN_OR_RETURN(std::string key_pem, ReadPemFile(key_file, "identity.key_file"));
  absl::StatusOr<std::vector<pki::Certificate>> chain = pki::ParsePemBundle(cert_pem);
  if (!chain.ok()) return Annotate(chain.status(), "identity.certificate_file");
  absl::StatusOr<pki::PrivateKey> key = pki::PrivateKey::FromPem(key_pem);
  if (!key.ok()) return Annotate(key.status(), "identity.key_file");
  if (!key->Matches(chain->front())) {
    return absl::InvalidArgumentError(
        "identity.key_file: does not match the first certificate of identity.certificate_file");
  }
  return chain;
}

}  // namespace trustfabric::tls
