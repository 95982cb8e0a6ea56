// Digests, hex and base64 codecs; see encoding.h.
#include "common/pki/encoding.h"

#include <openssl/evp.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace trustfabric::pki {
namespace {

std::string Digest(const EVP_MD* md, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // One-shot EVP_Digest only fails on allocation failure; an empty string
  // then is never a valid digest, so callers comparing digests fail closed.
  if (EVP_Digest(data.data(), data.size(), out, &len, md, nullptr) != 1) return "";
  return std::string(reinterpret_cast<const char*>(out), len);
}

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase64Std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int Base64Value(char c, char c62, char c63) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == c62) return 62;
  if (c == c63) return 63;
  return -1;
}

// Decodes unpadded base64 over the given alphabet. `what` names the encoding
// in messages.
absl::StatusOr<std::string> DecodeUnpadded(absl::string_view text, char c62, char c63,
                                           absl::string_view what) {
  // A single leftover character carries only 6 bits: never a whole byte.
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": invalid length ", text.size(), " (truncated input)"));
  }
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t acc = 0;
  int acc_bits = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const int v = Base64Value(text[i], c62, c63);
    if (v < 0) {
      if (text[i] == '=') {
        return absl::InvalidArgumentError(
            absl::StrCat(what, ": padding at position ", i, " is not allowed"));
      }
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": invalid character at position ", i));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    acc_bits += 6;
    if (acc_bits >= 8) {
      acc_bits -= 8;
      out.push_back(static_cast<char>((acc >> acc_bits) & 0xff));
      acc &= (1u << acc_bits) - 1;
    }
  }
  // Non-zero leftover bits mean several encodings decode to the same bytes;
  // signatures and token comparisons depend on exactly one.
  if (acc_bits > 0 && acc != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, ": non-canonical trailing bits at position ", text.size() - 1));
  }
  return out;
}

std::string Base64EncodeWith(absl::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                 static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    out.push_back(alphabet[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    if (pad) out.append("==");
  } else if (rest == 2) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

}  // namespace

std::string Sha256(absl::string_view data) { return Digest(EVP_sha256(), data); }
std::string Sha1(absl::string_view data) { return Digest(EVP_sha1(), data); }

std::string HexEncode(absl::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char b : bytes) {
    const auto v = static_cast<uint8_t>(b);
    out.push_back(kHexDigits[v >> 4]);
    out.push_back(kHexDigits[v & 15]);
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(absl::string_view hex) {
  if (hex.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hex: odd length ", hex.size()));
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("hex: invalid character at position ", hi < 0 ? i : i + 1));
    }
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

std::string Base64UrlEncode(absl::string_view bytes) {
  return Base64EncodeWith(bytes, kBase64Url, /*pad=*/false);
}

std::string Base64Encode(absl::string_view bytes) {
  return Base64EncodeWith(bytes, kBase64Std, /*pad=*/true);
}

absl::StatusOr<std::string> Base64UrlDecode(absl::string_view text) {
  return DecodeUnpadded(text, '-', '_', "base64url");
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "base64: invalid length ", text.size(), " (not a multiple of 4)"));
  }
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return DecodeUnpadded(text.substr(0, text.size() - pad), '+', '/', "base64");
}

}  // namespace trustfabric::pki
