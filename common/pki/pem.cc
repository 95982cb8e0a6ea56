// PEM block scanner; see pem.h.
#include "common/pki/pem.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/pki/certificate.h"
#include "common/pki/encoding.h"

namespace trustfabric::pki {
namespace {

constexpr absl::string_view kDashes = "-----";
constexpr absl::string_view kBegin = "-----BEGIN ";
constexpr absl::string_view kEnd = "-----END ";
constexpr size_t kMaxLabelBytes = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

size_t SkipSpace(absl::string_view s, size_t pos) {
  while (pos < s.size() && IsSpace(s[pos])) ++pos;
  return pos;
}

bool IsLabelChar(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' '; }

absl::Status BlockError(size_t n, absl::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("pem block ", n, ": ", reason));
}

}  // namespace

std::string DescribePemLabel(absl::string_view label) {
  if (label == "PRIVATE KEY" || label == "RSA PRIVATE KEY" || label == "EC PRIVATE KEY" ||
      label == "ENCRYPTED PRIVATE KEY" || label == "DSA PRIVATE KEY") {
    return "private key";
  }
  if (label == "PUBLIC KEY" || label == "RSA PUBLIC KEY") return "public key";
  if (label == "CERTIFICATE REQUEST" || label == "NEW CERTIFICATE REQUEST") {
    return "certificate request";
  }
  if (label == "X509 CRL") return "crl";
  if (label == "TRUSTED CERTIFICATE") return "trusted certificate";
  if (label == "CERTIFICATE") return "certificate";
  if (label == "PKCS7") return "pkcs#7";
  if (label == "EC PARAMETERS") return "ec parameters";
  return absl::StrCat("\"", absl::AsciiStrToLower(label), "\" block");
}

absl::StatusOr<std::vector<PemBlock>> ScanPem(absl::string_view pem) {
  if (pem.size() > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "pem: input of ", pem.size(), " bytes exceeds the limit of ", kMaxPemBytes));
  }
  std::vector<PemBlock> blocks;
  size_t pos = SkipSpace(pem, 0);
  if (pos == pem.size()) return absl::InvalidArgumentError("pem: empty input");
  while (pos < pem.size()) {
    const size_t n = blocks.size() + 1;
    if (!absl::StartsWith(pem.substr(pos), kBegin)) {
      if (blocks.empty()) {
        return absl::InvalidArgumentError("pem: no BEGIN line at the start of the input");
      }
      return absl::InvalidArgumentError(
          absl::StrCat("pem: trailing garbage after block ", blocks.size()));
    }
    const size_t block_start = pos;
    pos += kBegin.size();
    const size_t label_end = pem.find(kDashes, pos);
    const size_t line_end = pem.find('\n', pos);
    if (label_end == absl::string_view::npos ||
        (line_end != absl::string_view::npos && label_end > line_end)) {
      return BlockError(n, "truncated BEGIN line");
    }
    absl::string_view label = pem.substr(pos, label_end - pos);
    if (label.empty() || label.size() > kMaxLabelBytes) return BlockError(n, "invalid label");
    for (char c : label) {
      if (!IsLabelChar(c)) return BlockError(n, "invalid label");
    }
    pos = label_end + kDashes.size();
    // Only whitespace may follow the BEGIN line's dashes.
    while (pos < pem.size() && (pem[pos] == ' ' || pem[pos] == '\t' || pem[pos] == '\r')) ++pos;
    if (pos < pem.size() && pem[pos] != '\n') return BlockError(n, "text after BEGIN line");
    const size_t body_start = pos;
    // The next run of dashes must be this block's END line; anything else
    // (another BEGIN, or nothing) means the block was cut short.
    const size_t dashes = pem.find(kDashes, body_start);
    if (dashes == absl::string_view::npos || !absl::StartsWith(pem.substr(dashes), kEnd)) {
      return BlockError(n, absl::StrCat("truncated (missing END ", label, " line)"));
    }
    absl::string_view end_line = pem.substr(dashes + kEnd.size());
    if (!absl::StartsWith(end_line, label) ||
        !absl::StartsWith(end_line.substr(label.size()), kDashes)) {
      return BlockError(n, "END line does not match BEGIN line");
    }
    PemBlock block;
    block.label = std::string(label);
    block.body = pem.substr(body_start, dashes - body_start);
    block.has_headers = block.body.find(':') != absl::string_view::npos;
    pos = dashes + kEnd.size() + label.size() + kDashes.size();
    block.text = pem.substr(block_start, pos - block_start);
    if (pos < pem.size() && !IsSpace(pem[pos])) {
      return absl::InvalidArgumentError(
          absl::StrCat("pem: trailing garbage after block ", n));
    }
    blocks.push_back(block);
    pos = SkipSpace(pem, pos);
  }
  return blocks;
}

absl::StatusOr<std::string> DecodePemBody(const PemBlock& block) {
  if (block.has_headers) {
    return absl::InvalidArgumentError("unexpected pem headers");
  }
  std::string compact;
  compact.reserve(block.body.size());
  for (char c : block.body) {
    if (!IsSpace(c)) compact.push_back(c);
  }
  if (compact.empty()) return absl::InvalidArgumentError("empty pem body");
  return Base64Decode(compact);
}

std::string PemEncode(absl::string_view label, absl::string_view der) {
  const std::string b64 = Base64Encode(der);
  std::string out = absl::StrCat("-----BEGIN ", label, "-----\n");
  for (size_t i = 0; i < b64.size(); i += 64) {
    absl::StrAppend(&out, b64.substr(i, 64), "\n");
  }
  absl::StrAppend(&out, "-----END ", label, "-----\n");
  return out;
}

}  // namespace trustfabric::pki
