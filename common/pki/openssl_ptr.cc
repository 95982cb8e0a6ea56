// OpenSSL error-queue helper; see openssl_ptr.h.
#include "common/pki/openssl_ptr.h"

#include <openssl/err.h>

#include <string>

namespace trustfabric::pki {

std::string ConsumeOpenSslError(const std::string& fallback) {
  // Only the reason string is kept: the error "data" field can echo parts of
  // the input, which may be key material.
  unsigned long last = 0;
  unsigned long code;
  while ((code = ERR_get_error()) != 0) last = code;
  if (last == 0) return fallback;
  const char* reason = ERR_reason_error_string(last);
  if (reason == nullptr) return fallback;
  std::string text(reason);
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

}  // namespace trustfabric::pki
