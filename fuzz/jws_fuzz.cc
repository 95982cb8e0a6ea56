// Fuzz target: compact JWS parsing (common/token/jws.h) on arbitrary bytes:
// size and character rules, segments, strict base64url, the JSON of header
// and payload. What parses has an object header and payload and a signing
// input that is a prefix of the token.
//
//   ninja -C build-fuzz jws_fuzz && build-fuzz/fuzz/jws_fuzz fuzz/corpus/jws
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "absl/strings/match.h"
#include "common/token/jws.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view token(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<trustfabric::token::CompactJws> jws = trustfabric::token::ParseCompactJws(token);
  if (!jws.ok()) return 0;
  if (!absl::StartsWith(token, jws->signing_input)) std::abort();
  if (!jws->header.is_object() || !jws->payload.is_object()) std::abort();
  return 0;
}
