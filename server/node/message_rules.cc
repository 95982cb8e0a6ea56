// Message validation; see message_rules.h.
#include "server/node/message_rules.h"

#include <openssl/rand.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/pki/encoding.h"
#include "common/status/status.h"
#include "server/node/registry.h"

namespace trustfabric::node {
namespace {

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace

absl::Status ValidateMessage(const v1::Message& message) {
  const std::string& id = message.id();
  if (id.empty() || id.size() > 64) {
    return absl::InvalidArgumentError("message.id: must be 1..64 characters");
  }
  for (char c : id) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return absl::InvalidArgumentError("message.id: may contain only a-z 0-9 -");
    }
  }
  TF_RETURN_IF_ERROR(ParseUser(message.from(), "message.from", nullptr, nullptr));
  TF_RETURN_IF_ERROR(ParseUser(message.to(), "message.to", nullptr, nullptr));
  if (message.body().size() > kMaxBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("message.body: larger than ", kMaxBodyBytes, " bytes"));
  }
  if (!IsValidUtf8(message.body())) {
    return absl::InvalidArgumentError("message.body: not valid utf-8");
  }
  return absl::OkStatus();
}

std::string DomainOf(const std::string& user) {
  size_t at = user.find('@');
  return at == std::string::npos ? "" : user.substr(at + 1);
}

std::string NewMessageId() {
  unsigned char bytes[16];
  RAND_bytes(bytes, sizeof bytes);
  return pki::HexEncode(absl::string_view(reinterpret_cast<const char*>(bytes), sizeof bytes));
}

}  // namespace trustfabric::node
