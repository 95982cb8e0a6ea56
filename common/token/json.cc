#include "common/token/json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace trustfabric::token {

Json Json::Bool(bool value) {
  Json j;
  j.type_ = Type::kBool;
  j.bool_ = value;
  return j;
}

Json Json::Integer(int64_t value) {
  Json j;
  j.type_ = Type::kInteger;
  j.integer_ = value;
  return j;
}

Json Json::Float(double value) {
  Json j;
  j.type_ = Type::kFloat;
  j.float_ = value;
  return j;
}

Json Json::String(std::string value) {
  Json j;
  j.type_ = Type::kString;
  j.string_ = std::move(value);
  return j;
}

Json Json::MakeArray(Array elements) {
  Json j;
  j.type_ = Type::kArray;
  j.array_ = std::move(elements);
  return j;
}

Json Json::MakeObject(Object members) {
  Json j;
  j.type_ = Type::kObject;
  j.members_ = std::move(members);
  return j;
}

const Json* Json::Find(absl::string_view key) const {
  if (type_ != Type::kObject) return nullptr;
  for (const Member& m : members_) {
    if (m.first == key) return &m.second;
  }
  return nullptr;
}

void Json::Set(std::string key, Json value) {
  for (Member& m : members_) {
    if (m.first == key) {
      m.second = std::move(value);
      return;
    }
  }
  members_.emplace_back(std::move(key), std::move(value));
}

void Json::Erase(absl::string_view key) {
  for (auto it = members_.begin(); it != members_.end(); ++it) {
    if (it->first == key) {
      members_.erase(it);
      return;
    }
  }
}

void Json::Append(Json value) { array_.push_back(std::move(value)); }

bool operator==(const Json& a, const Json& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case Json::Type::kNull:
      return true;
    case Json::Type::kBool:
      return a.bool_ == b.bool_;
    case Json::Type::kInteger:
      return a.integer_ == b.integer_;
    case Json::Type::kFloat:
      return a.float_ == b.float_;
    case Json::Type::kString:
      return a.string_ == b.string_;
    case Json::Type::kArray:
      return a.array_ == b.array_;
    case Json::Type::kObject:
      return a.members_ == b.members_;
  }
  return false;
}

namespace {

constexpr char kHex[] = "0123456789abcdef";

void SerializeString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (u < 0x20) {
          out->append("\\u00");
          out->push_back(kHex[u >> 4]);
          out->push_back(kHex[u & 0xf]);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void SerializeFloat(double v, std::string* out) {
  if (!std::isfinite(v)) {
    // JSON has no representation for these; null is what JSON.stringify does.
    out->append("null");
    return;
  }
  char buf[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  std::string text(buf);
  if (text.find_first_of(".eE") == std::string::npos) text.append(".0");
  out->append(text);
}

}  // namespace

void Json::SerializeTo(std::string* out) const {
  switch (type_) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(bool_ ? "true" : "false");
      return;
    case Type::kInteger:
      absl::StrAppend(out, integer_);
      return;
    case Type::kFloat:
      SerializeFloat(float_, out);
      return;
    case Type::kString:
      SerializeString(string_, out);
      return;
    case Type::kArray: {
      out->push_back('[');
      bool first = true;
      for (const Json& e : array_) {
        if (!first) out->push_back(',');
        first = false;
        e.SerializeTo(out);
      }
      out->push_back(']');
      return;
    }
    case Type::kObject: {
      out->push_back('{');
      bool first = true;
      for (const Member& m : members_) {
        if (!first) out->push_back(',');
        first = false;
        SerializeString(m.first, out);
        out->push_back(':');
        m.second.SerializeTo(out);
      }
      out->push_back('}');
      return;
    }
  }
}

std::string Json::Serialize() const {
  std::string out;
  SerializeTo(&out);
  return out;
}

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (1..4), or 0
// when the bytes there are not one (Unicode 15 table 3-7).
size_t Utf8SequenceLength(absl::string_view s, size_t i) {
  auto at = [&](size_t k) -> unsigned {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0x100u;
  };
  auto cont = [](unsigned b, unsigned lo, unsigned hi) { return b >= lo && b <= hi; };
  unsigned b0 = at(0);
  if (b0 < 0x80) return 1;
  if (b0 >= 0xC2 && b0 <= 0xDF) return cont(at(1), 0x80, 0xBF) ? 2 : 0;
  if (b0 == 0xE0) return cont(at(1), 0xA0, 0xBF) && cont(at(2), 0x80, 0xBF) ? 3 : 0;
  if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) {
    return cont(at(1), 0x80, 0xBF) && cont(at(2), 0x80, 0xBF) ? 3 : 0;
  }
  // 0xED 0xA0..0xBF would encode a UTF-16 surrogate.
  if (b0 == 0xED) return cont(at(1), 0x80, 0x9F) && cont(at(2), 0x80, 0xBF) ? 3 : 0;
  if (b0 == 0xF0) {
    return cont(at(1), 0x90, 0xBF) && cont(at(2), 0x80, 0xBF) && cont(at(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (b0 >= 0xF1 && b0 <= 0xF3) {
    return cont(at(1), 0x80, 0xBF) && cont(at(2), 0x80, 0xBF) && cont(at(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (b0 == 0xF4) {
    return cont(at(1), 0x80, 0x8F) && cont(at(2), 0x80, 0xBF) && cont(at(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

class Parser {
 public:
  Parser(absl::string_view text, const JsonLimits& limits) : s_(text), limits_(limits) {}

  absl::StatusOr<Json> ParseDocument() {
    Json value;
    SkipWhitespace();
    if (!ParseValue(&value, 0)) return std::move(error_);
    SkipWhitespace();
    if (pos_ != s_.size()) {
      Fail("trailing data");
      return std::move(error_);
    }
    return value;
  }

 private:
  // Records the first error; returns false so callers can `return Fail(...)`.
  bool Fail(absl::string_view reason) { return FailAt(reason, pos_); }
  bool FailAt(absl::string_view reason, size_t offset) {
    if (error_.ok()) {
      error_ = absl::InvalidArgumentError(absl::StrCat("json: ", reason, " at offset ", offset));
    }
    return false;
  }

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }

  void SkipWhitespace() {
    while (!AtEnd()) {
      char c = Peek();
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
      ++pos_;
    }
  }

  bool ConsumeLiteral(absl::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return Fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool ParseValue(Json* out, int depth) {
    if (AtEnd()) return Fail("unexpected end of input");
    switch (Peek()) {
      case '{':
        return ParseObject(out, depth + 1);
      case '[':
        return ParseArray(out, depth + 1);
      case '"': {
        std::string s;
        if (!ParseString(&s)) return false;
        *out = Json::String(std::move(s));
        return true;
      }
      case 't':
        if (!ConsumeLiteral("true")) return false;
        *out = Json::Bool(true);
        return true;
      case 'f':
        if (!ConsumeLiteral("false")) return false;
        *out = Json::Bool(false);
        return true;
      case 'n':
        if (!ConsumeLiteral("null")) return false;
        *out = Json::Null();
        return true;
      default:
        if (Peek() == '-' || (Peek() >= '0' && Peek() <= '9')) return ParseNumber(out);
        return Fail("unexpected character");
    }
  }

  // Consumes `c` when it comes next.
  bool ConsumeIf(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }

  // After a member or element: consumes ',' (another follows) or `close`
  // (sets *done). False, with the error set, for anything else.
  bool ConsumeSeparator(char close, bool* done) {
    SkipWhitespace();
    if (AtEnd()) return Fail("unexpected end of input");
    if (ConsumeIf(',')) return true;
    if (ConsumeIf(close)) {
      *done = true;
      return true;
    }
    return Fail(absl::StrCat("expected ',' or '", absl::string_view(&close, 1), "'"));
  }

  bool CheckDepth(int depth) {
    if (depth > limits_.max_depth) {
      return Fail(absl::StrCat("nesting deeper than ", limits_.max_depth));
    }
    return true;
  }

  bool ParseObject(Json* out, int depth) {
    if (!CheckDepth(depth)) return false;
    ++pos_;  // '{'
    Json::Object members;
    // Small objects (every token header and payload) are checked by a
    // linear scan; the set keeps large hostile objects from going quadratic.
    absl::flat_hash_set<std::string> seen;
    SkipWhitespace();
    bool done = ConsumeIf('}');
    while (!done) {
      SkipWhitespace();
      if (AtEnd() || Peek() != '"') return Fail("expected object key");
      size_t key_offset = pos_;
      std::string key;
      if (!ParseString(&key)) return false;
      bool duplicate;
      if (members.size() < 16) {
        duplicate = false;
        for (const Json::Member& m : members) duplicate = duplicate || m.first == key;
      } else {
        if (seen.empty()) {
          for (const Json::Member& m : members) seen.insert(m.first);
        }
        duplicate = !seen.insert(key).second;
      }
      if (duplicate) {
        // Keys are echoed only when they are short printable ASCII, so a
        // hostile key cannot inject text into logs.
        bool printable = key.size() <= 32;
        for (char c : key) printable = printable && c > 0x20 && c < 0x7f && c != '"' && c != '\\';
        return FailAt(printable ? absl::StrCat("duplicate key \"", key, "\"") : "duplicate key",
                      key_offset);
      }
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Fail("expected ':'");
      ++pos_;
      SkipWhitespace();
      Json value;
      if (!ParseValue(&value, depth)) return false;
      members.emplace_back(std::move(key), std::move(value));
      if (!ConsumeSeparator('}', &done)) return false;
    }
    *out = Json::MakeObject(std::move(members));
    return true;
  }

  bool ParseArray(Json* out, int depth) {
    if (!CheckDepth(depth)) return false;
    ++pos_;  // '['
    Json::Array elements;
    SkipWhitespace();
    bool done = ConsumeIf(']');
    while (!done) {
      SkipWhitespace();
      Json value;
      if (!ParseValue(&value, depth)) return false;
      elements.push_back(std::move(value));
      if (!ConsumeSeparator(']', &done)) return false;
    }
    *out = Json::MakeArray(std::move(elements));
    return true;
  }

  bool ParseHex4(uint32_t* out) {
    if (s_.size() - pos_ < 4) return Fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Fail("invalid \\u escape");
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // opening quote
    while (true) {
      // Runs of plain printable ASCII (all of a token's usual text) are
      // copied in one append; everything else takes the checks below.
      size_t run = pos_;
      while (run < s_.size()) {
        const unsigned char r = static_cast<unsigned char>(s_[run]);
        if (r < 0x20 || r >= 0x80 || r == '"' || r == '\\') break;
        ++run;
      }
      if (run > pos_) {
        out->append(s_.data() + pos_, run - pos_);
        pos_ = run;
      }
      if (AtEnd()) return Fail("unterminated string");
      unsigned char c = static_cast<unsigned char>(Peek());
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("control character in string");
      if (c == '\\') {
        size_t escape_offset = pos_;
        ++pos_;
        if (AtEnd()) return Fail("unterminated string");
        char e = Peek();
        ++pos_;
        switch (e) {
          case '"':
            out->push_back('"');
            break;
          case '\\':
            out->push_back('\\');
            break;
          case '/':
            out->push_back('/');
            break;
          case 'b':
            out->push_back('\b');
            break;
          case 'f':
            out->push_back('\f');
            break;
          case 'n':
            out->push_back('\n');
            break;
          case 'r':
            out->push_back('\r');
            break;
          case 't':
            out->push_back('\t');
            break;
          case 'u': {
            uint32_t cp;
            if (!ParseHex4(&cp)) return false;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
              return FailAt("unpaired surrogate escape", escape_offset);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              if (s_.substr(pos_, 2) != "\\u") {
                return FailAt("unpaired surrogate escape", escape_offset);
              }
              pos_ += 2;
              uint32_t low;
              if (!ParseHex4(&low)) return false;
              if (low < 0xDC00 || low > 0xDFFF) {
                return FailAt("unpaired surrogate escape", escape_offset);
              }
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            }
            // A NUL inside an identity string would truncate it for any
            // C-string consumer downstream.
            if (cp == 0) return FailAt("nul character in string", escape_offset);
            AppendUtf8(cp, out);
            break;
          }
          default:
            return FailAt("invalid escape", escape_offset);
        }
        continue;
      }
      size_t n = Utf8SequenceLength(s_, pos_);
      if (n == 0) return Fail("invalid utf-8");
      out->append(s_.data() + pos_, n);
      pos_ += n;
    }
  }

  bool ParseNumber(Json* out) {
    size_t start = pos_;
    bool is_float = false;
    if (Peek() == '-') ++pos_;
    if (AtEnd() || Peek() < '0' || Peek() > '9') return Fail("invalid number");
    if (Peek() == '0') {
      ++pos_;
      if (!AtEnd() && Peek() >= '0' && Peek() <= '9') return FailAt("leading zero", start);
    } else {
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    if (!AtEnd() && Peek() == '.') {
      is_float = true;
      ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') return Fail("invalid number");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    if (!AtEnd() && (Peek() == 'e' || Peek() == 'E')) {
      is_float = true;
      ++pos_;
      if (!AtEnd() && (Peek() == '+' || Peek() == '-')) ++pos_;
      if (AtEnd() || Peek() < '0' || Peek() > '9') return Fail("invalid number");
      while (!AtEnd() && Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    absl::string_view text = s_.substr(start, pos_ - start);
    if (!is_float) {
      int64_t v;
      if (!absl::SimpleAtoi(text, &v)) return FailAt("integer out of range", start);
      *out = Json::Integer(v);
      return true;
    }
    double d;
    if (!absl::SimpleAtod(text, &d) || !std::isfinite(d)) {
      return FailAt("number out of range", start);
    }
    *out = Json::Float(d);
    return true;
  }

  absl::string_view s_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  absl::Status error_;
};

}  // namespace

absl::StatusOr<Json> ParseJson(absl::string_view text, const JsonLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("json: too large (", text.size(), " bytes, limit ", limits.max_bytes, ")"));
  }
  Parser parser(text, limits);
  return parser.ParseDocument();
}

bool IsValidUtf8(absl::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    size_t n = Utf8SequenceLength(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace trustfabric::token
