// Fuzz target: the strict JSON parser of tokens (common/token/json.h) on
// arbitrary bytes. A parse that succeeds must serialize to text that parses
// again to the same serialization (no value changes on a round trip).
//
//   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DTF_BUILD_FUZZ=ON
//   ninja -C build-fuzz json_fuzz && build-fuzz/fuzz/json_fuzz fuzz/corpus/json
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "common/token/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<trustfabric::token::Json> parsed = trustfabric::token::ParseJson(text);
  if (!parsed.ok()) return 0;
  const std::string once = parsed->Serialize();
  absl::StatusOr<trustfabric::token::Json> again = trustfabric::token::ParseJson(once);
  if (!again.ok() || again->Serialize() != once) std::abort();
  return 0;
}
