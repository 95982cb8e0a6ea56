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
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase64Std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decoding table of one alphabet: the 6-bit value of each byte, -1 if none.
struct Base64Table {
  int8_t value[256];
};

Base64Table MakeTable(char c62, char c63) {
  Base64Table t;
  for (int i = 0; i < 256; ++i) t.value[i] = -1;
  for (int i = 0; i < 26; ++i) {
    t.value['A' + i] = static_cast<int8_t>(i);
    t.value['a' + i] = static_cast<int8_t>(26 + i);
  }
  for (int i = 0; i < 10; ++i) t.value['0' + i] = static_cast<int8_t>(52 + i);
  t.value[static_cast<unsigned char>(c62)] = 62;
  t.value[static_cast<unsigned char>(c63)] = 63;
  return t;
}

const Base64Table& TableFor(char c62) {
  static const Base64Table url = MakeTable('-', '_');
  static const Base64Table std_table = MakeTable('+', '/');
  return c62 == '-' ? url : std_table;
}

// Decodes unpadded base64 over the alphabet whose 62nd character is `c62`
// ('-': base64url, '+': standard). `what` names the encoding in messages.
absl::StatusOr<std::string> DecodeUnpadded(absl::string_view text, char c62,
                                           absl::string_view what) {
  // A single leftover character carries only 6 bits: never a whole byte.
  if (text.size() % 4 == 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": invalid length ", text.size(), " (truncated input)"));
  }
  const int8_t* table = TableFor(c62).value;
  auto bad_character = [&](size_t i) {
    if (text[i] == '=') {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": padding at position ", i, " is not allowed"));
    }
    return absl::InvalidArgumentError(absl::StrCat(what, ": invalid character at position ", i));
  };
  auto value = [&](size_t i) { return table[static_cast<unsigned char>(text[i])]; };
  const size_t full = text.size() / 4 * 4;
  const size_t tail = text.size() - full;
  std::string out(full / 4 * 3 + (tail == 0 ? 0 : tail - 1), '\0');
  size_t o = 0;
  // Four characters make three bytes.
  for (size_t i = 0; i < full; i += 4) {
    const int a = value(i), b = value(i + 1), c = value(i + 2), d = value(i + 3);
    if ((a | b | c | d) < 0) {
      for (size_t k = i;; ++k) {
        if (value(k) < 0) return bad_character(k);
      }
    }
    const uint32_t n = (static_cast<uint32_t>(a) << 18) | (static_cast<uint32_t>(b) << 12) |
                       (static_cast<uint32_t>(c) << 6) | static_cast<uint32_t>(d);
    out[o++] = static_cast<char>(n >> 16);
    out[o++] = static_cast<char>((n >> 8) & 0xff);
    out[o++] = static_cast<char>(n & 0xff);
  }
  if (tail > 0) {
    uint32_t n = 0;
    for (size_t k = full; k < text.size(); ++k) {
      const int v = value(k);
      if (v < 0) return bad_character(k);
      n = (n << 6) | static_cast<uint32_t>(v);
    }
    // 2 characters: 12 bits, 1 byte + 4 spare bits; 3: 18 bits, 2 bytes + 2.
    const int spare = tail == 2 ? 4 : 2;
    // Non-zero spare bits mean several encodings decode to the same bytes;
    // signatures and token comparisons depend on exactly one.
    if ((n & ((1u << spare) - 1)) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": non-canonical trailing bits at position ", text.size() - 1));
    }
    n >>= spare;
    if (tail == 3) out[o++] = static_cast<char>(n >> 8);
    out[o++] = static_cast<char>(n & 0xff);
  }
  return out;
}

std::string Base64EncodeWith(absl::string_view bytes, const char* alphabet, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                 (static_cast<uint8_t>(bytes[i + 1]) << 8) | static_cast<uint8_t>(bytes[i + 2]);
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
    uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) | (static_cast<uint8_t>(bytes[i + 1]) << 8);
    out.push_back(alphabet[(v >> 18) & 63]);
    out.push_back(alphabet[(v >> 12) & 63]);
    out.push_back(alphabet[(v >> 6) & 63]);
    if (pad) out.push_back('=');
  }
  return out;
}

}  // namespace

// Fetched once: with OpenSSL 3 the legacy EVP_sha256() handle makes every
// digest fetch its implementation again (locks and a property query), which
// costs more than hashing a token.
std::string Sha256(absl::string_view data) {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return Digest(md != nullptr ? md : EVP_sha256(), data);
}

std::string Sha1(absl::string_view data) {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return Digest(md != nullptr ? md : EVP_sha1(), data);
}

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
    return absl::InvalidArgumentError(absl::StrCat("hex: odd length ", hex.size()));
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
  return DecodeUnpadded(text, '-', "base64url");
}

absl::StatusOr<std::string> Base64Decode(absl::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("base64: invalid length ", text.size(), " (not a multiple of 4)"));
  }
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return DecodeUnpadded(text.substr(0, text.size() - pad), '+', "base64");
}

}  // namespace trustfabric::pki
