// Strict JSON for token headers and claims.
//
// Tokens arrive from untrusted callers, so the parser accepts exactly
// RFC 8259 JSON and nothing more, and refuses what a lenient parser would
// silently reinterpret: duplicate object keys (two parsers could pick
// different values), invalid UTF-8 (overlong forms, surrogates, truncated
// sequences), unpaired \u surrogates, NUL characters and raw control
// characters in strings, leading zeros, trailing data, nesting deeper than
// a limit, and inputs larger than a limit. Integers and floats stay
// distinct types: `1` is an integer, `1.0` and `1e3` are floats, and an
// integer outside int64 is an error rather than a rounded double.
//
// Why not nlohmann-json (which the project uses for its own files, e.g.
// server/node/registry.cc): its normal parse (3.11, json::parse) is right for
// files we write, wrong for text an attacker writes. It keeps the last of
// duplicate keys ({"exp":1,"exp":2} is exp 2, where another JWT library may
// take the first), has no nesting limit (a million nested arrays parse) and
// no size limit, turns integers above int64 into uint64 and beyond uint64 (or
// below int64) into a rounded double without an error, and accepts \u0000 in
// strings. It does refuse invalid UTF-8, unpaired surrogates, leading zeros,
// trailing data and comments, as this parser does. Its SAX interface could be
// made as strict, but would need the same checks written as callbacks plus an
// order-keeping object and a lookup per key for duplicates; this parser is
// those checks alone, small enough to read in one sitting, and is measured by
// bench/token_bench.cc (token verification parses a header and a payload).
//
//   TF_ASSIGN_OR_RETURN(token::Json payload, token::ParseJson(text));
//   const token::Json* exp = payload.Find("exp");
//   if (exp == nullptr || !exp->is_integer()) return ...;
//   int64_t seconds = exp->integer_value();
//
//   token::Json header = token::Json::MakeObject();
//   header.Set("typ", token::Json::String("JWT"));
//   std::string text = header.Serialize();   // {"typ":"JWT"}
#ifndef TRUSTFABRIC_COMMON_TOKEN_JSON_H_
#define TRUSTFABRIC_COMMON_TOKEN_JSON_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace trustfabric::token {

// A JSON value. Objects keep their members in insertion (or document)
// order, so serialization is deterministic; keys are unique.
class Json {
 public:
  enum class Type { kNull, kBool, kInteger, kFloat, kString, kArray, kObject };
  using Array = std::vector<Json>;
  using Member = std::pair<std::string, Json>;
  using Object = std::vector<Member>;

  // null.
  Json() = default;

  static Json Null() { return Json(); }
  static Json Bool(bool value);
  static Json Integer(int64_t value);
  static Json Float(double value);
  // REQUIRES: `value` is valid UTF-8 (see IsValidUtf8); Serialize() copies
  // the bytes through unchanged.
  static Json String(std::string value);
  static Json MakeArray(Array elements = {});
  // REQUIRES: keys of `members` are unique.
  static Json MakeObject(Object members = {});

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_integer() const { return type_ == Type::kInteger; }
  bool is_float() const { return type_ == Type::kFloat; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  // REQUIRES: the matching type; other types yield false / 0 / empty.
  bool bool_value() const { return type_ == Type::kBool && bool_; }
  int64_t integer_value() const { return type_ == Type::kInteger ? integer_ : 0; }
  double float_value() const { return type_ == Type::kFloat ? float_ : 0.0; }
  const std::string& string_value() const { return string_; }
  const Array& array() const { return array_; }
  const Object& members() const { return members_; }

  // The member named `key` of an object; null when absent or not an object.
  const Json* Find(absl::string_view key) const;
  // Replaces the member named `key` or appends it. REQUIRES: is_object().
  void Set(std::string key, Json value);
  // Removes the member named `key` if present. REQUIRES: is_object().
  void Erase(absl::string_view key);
  // REQUIRES: is_array().
  void Append(Json value);

  // Compact serialization (no whitespace). Strings escape '"', '\\' and
  // control characters; other characters are written as UTF-8. Floats use
  // the shortest form that reads back to the same double and always carry a
  // '.' or an exponent, so they re-parse as floats.
  std::string Serialize() const;
  void SerializeTo(std::string* out) const;

  friend bool operator==(const Json& a, const Json& b);
  friend bool operator!=(const Json& a, const Json& b) { return !(a == b); }

 private:
  Type type_ = Type::kNull;
  bool bool_ = false;
  int64_t integer_ = 0;
  double float_ = 0.0;
  std::string string_;
  Array array_;
  Object members_;
};

// Largest JSON text ParseJson accepts by default.
inline constexpr size_t kDefaultMaxJsonBytes = 16 * 1024;
// Deepest nesting ParseJson accepts by default: 16 levels of arrays or
// objects ({"a":1} is depth 1).
inline constexpr int kDefaultMaxJsonDepth = 16;

struct JsonLimits {
  size_t max_bytes = kDefaultMaxJsonBytes;
  int max_depth = kDefaultMaxJsonDepth;
};

// Parses one JSON value surrounded by optional whitespace (space, tab, CR,
// LF only). INVALID_ARGUMENT with a stable, lower-case reason starting with
// "json: " and, where useful, the byte offset, e.g.
//   "json: too large (20000 bytes, limit 16384)"
//   "json: duplicate key \"exp\" at offset 31"
//   "json: nesting deeper than 16 at offset 16"
//   "json: invalid utf-8 at offset 9"
//   "json: control character in string at offset 12"
//   "json: leading zero at offset 7"
//   "json: integer out of range at offset 7"
//   "json: trailing data at offset 14"
// Never echoes input bytes.
absl::StatusOr<Json> ParseJson(absl::string_view text, const JsonLimits& limits = {});

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates, no
// code points above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace trustfabric::token

#endif  // TRUSTFABRIC_COMMON_TOKEN_JSON_H_
