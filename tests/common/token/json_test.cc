#include "common/token/json.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::token {
namespace {

std::string ErrorOf(absl::string_view text, const JsonLimits& limits = {}) {
  absl::StatusOr<Json> j = ParseJson(text, limits);
  if (j.ok()) return "ok";
  EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(j.status().message());
}

TEST(JsonParse, AcceptsEveryValueType) {
  absl::StatusOr<Json> j = ParseJson(
      R"( {"n":null,"t":true,"f":false,"i":-42,"d":1.5,"e":2e3,"s":"x\u00e9\ud83d\ude00",)"
      R"("a":[1,[2],{}],"o":{"k":"v"}} )");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_TRUE(j->Find("n")->is_null());
  EXPECT_TRUE(j->Find("t")->bool_value());
  EXPECT_FALSE(j->Find("f")->bool_value());
  EXPECT_TRUE(j->Find("i")->is_integer());
  EXPECT_EQ(j->Find("i")->integer_value(), -42);
  EXPECT_TRUE(j->Find("d")->is_float());
  EXPECT_EQ(j->Find("d")->float_value(), 1.5);
  EXPECT_TRUE(j->Find("e")->is_float());
  EXPECT_EQ(j->Find("e")->float_value(), 2000.0);
  EXPECT_EQ(j->Find("s")->string_value(), "x\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(j->Find("a")->array().size(), 3u);
  EXPECT_EQ(j->Find("o")->Find("k")->string_value(), "v");
  EXPECT_EQ(j->Find("missing"), nullptr);
}

TEST(JsonParse, KeepsDocumentOrder) {
  absl::StatusOr<Json> j = ParseJson(R"({"b":1,"a":2,"c":3})");
  ASSERT_TRUE(j.ok());
  ASSERT_EQ(j->members().size(), 3u);
  EXPECT_EQ(j->members()[0].first, "b");
  EXPECT_EQ(j->members()[1].first, "a");
  EXPECT_EQ(j->Serialize(), R"({"b":1,"a":2,"c":3})");
}

TEST(JsonParse, IntegerAndFloatAreDistinct) {
  EXPECT_TRUE(ParseJson("1700000000")->is_integer());
  EXPECT_TRUE(ParseJson("1700000000.0")->is_float());
  EXPECT_TRUE(ParseJson("1.7e9")->is_float());
  EXPECT_TRUE(ParseJson("17E8")->is_float());
  EXPECT_TRUE(ParseJson("-0")->is_integer());
  EXPECT_EQ(ParseJson("9223372036854775807")->integer_value(), INT64_MAX);
  EXPECT_EQ(ParseJson("-9223372036854775808")->integer_value(), INT64_MIN);
}

TEST(JsonParse, RejectsIntegersBeyondInt64) {
  EXPECT_THAT(ErrorOf("9223372036854775808"), HasSubstr("integer out of range"));
  EXPECT_THAT(ErrorOf("-9223372036854775809"), HasSubstr("integer out of range"));
  EXPECT_THAT(ErrorOf(R"({"exp":99999999999999999999999})"), HasSubstr("integer out of range"));
  EXPECT_THAT(ErrorOf("1e400"), HasSubstr("number out of range"));
}

TEST(JsonParse, RejectsDuplicateKeys) {
  EXPECT_EQ(ErrorOf(R"({"exp":1,"exp":2})"), "json: duplicate key \"exp\" at offset 9");
  EXPECT_THAT(ErrorOf(R"({"a":{"x":1,"x":1}})"), HasSubstr("duplicate key \"x\""));
  // Escaped spellings of the same key are the same key.
  EXPECT_THAT(ErrorOf(R"({"iss":1,"i\u0073s":2})"), HasSubstr("duplicate key \"iss\""));
  // Large objects take the hashed path; it must catch duplicates too.
  std::string big = "{";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&big, "\"k", i, "\":", i, ",");
  absl::StrAppend(&big, "\"k3\":0}");
  EXPECT_THAT(ErrorOf(big), HasSubstr("duplicate key \"k3\""));
  std::string distinct = "{";
  for (int i = 0; i < 40; ++i) absl::StrAppend(&distinct, i ? "," : "", "\"k", i, "\":", i);
  distinct += "}";
  EXPECT_EQ(ErrorOf(distinct), "ok");
}

TEST(JsonParse, DuplicateKeyReasonDoesNotEchoHostileKeys) {
  EXPECT_EQ(ErrorOf("{\"a\\nb\":1,\"a\\nb\":2}"), "json: duplicate key at offset 10");
}

TEST(JsonParse, EnforcesDepthLimit) {
  std::string ok(16, '[');
  ok += std::string(16, ']');
  EXPECT_EQ(ErrorOf(ok), "ok");
  std::string deep(17, '[');
  deep += std::string(17, ']');
  EXPECT_EQ(ErrorOf(deep), "json: nesting deeper than 16 at offset 16");
  std::string objects;
  for (int i = 0; i < 17; ++i) objects += "{\"a\":";
  objects += "1" + std::string(17, '}');
  EXPECT_THAT(ErrorOf(objects), HasSubstr("nesting deeper than 16"));
  // A hostile depth far beyond the limit fails without exhausting the stack.
  EXPECT_THAT(ErrorOf(std::string(10000, '[')), HasSubstr("nesting deeper than 16"));
  JsonLimits shallow;
  shallow.max_depth = 2;
  EXPECT_THAT(ErrorOf("[[[1]]]", shallow), HasSubstr("nesting deeper than 2"));
}

TEST(JsonParse, EnforcesSizeLimit) {
  std::string big = "\"" + std::string(kDefaultMaxJsonBytes, 'a') + "\"";
  EXPECT_EQ(ErrorOf(big), absl::StrCat("json: too large (", big.size(), " bytes, limit 16384)"));
  JsonLimits tiny;
  tiny.max_bytes = 4;
  EXPECT_THAT(ErrorOf("12345", tiny), HasSubstr("too large"));
  EXPECT_EQ(ErrorOf("1234", tiny), "ok");
}

TEST(JsonParse, RejectsInvalidUtf8) {
  struct Case {
    const char* name;
    std::string bytes;
  };
  const Case cases[] = {
      {"lone continuation", "\x80"},
      {"overlong slash", "\xc0\xaf"},
      {"overlong nul", "\xc0\x80"},
      {"overlong 3-byte", "\xe0\x80\xaf"},
      {"overlong 4-byte", "\xf0\x80\x80\xaf"},
      {"utf-8 encoded high surrogate", "\xed\xa0\x80"},
      {"utf-8 encoded low surrogate", "\xed\xbf\xbf"},
      {"above U+10FFFF", "\xf4\x90\x80\x80"},
      {"f5 lead byte", "\xf5\x80\x80\x80"},
      {"truncated 2-byte", "\xc3"},
      {"truncated 3-byte", "\xe2\x82"},
      {"ff byte", "\xff"},
  };
  for (const Case& c : cases) {
    std::string doc = "{\"s\":\"a" + c.bytes + "\"}";
    EXPECT_EQ(ErrorOf(doc), "json: invalid utf-8 at offset 7") << c.name;
    EXPECT_FALSE(IsValidUtf8(c.bytes)) << c.name;
  }
  EXPECT_TRUE(IsValidUtf8("x\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
  // Non-ASCII outside strings is never JSON.
  EXPECT_THAT(ErrorOf("\xc3\xa9"), HasSubstr("unexpected character"));
}

TEST(JsonParse, RejectsBadEscapes) {
  EXPECT_THAT(ErrorOf(R"("\ud800")"), HasSubstr("unpaired surrogate escape"));
  EXPECT_THAT(ErrorOf(R"("\udc00")"), HasSubstr("unpaired surrogate escape"));
  EXPECT_THAT(ErrorOf(R"("\ud800\u0041")"), HasSubstr("unpaired surrogate escape"));
  EXPECT_THAT(ErrorOf(R"("\ud800x")"), HasSubstr("unpaired surrogate escape"));
  EXPECT_THAT(ErrorOf(R"("\u0000")"), HasSubstr("nul character in string"));
  EXPECT_THAT(ErrorOf(R"("\x41")"), HasSubstr("invalid escape"));
  EXPECT_THAT(ErrorOf(R"("\u12")"), HasSubstr("truncated \\u escape"));
  EXPECT_THAT(ErrorOf(R"("\u12g4")"), HasSubstr("invalid \\u escape"));
  EXPECT_EQ(*ParseJson(R"("\"\\\/\b\f\n\r\t\u0041")"), Json::String("\"\\/\b\f\n\r\tA"));
}

TEST(JsonParse, RejectsControlCharactersInStrings) {
  EXPECT_EQ(ErrorOf("\"a\nb\""), "json: control character in string at offset 2");
  EXPECT_THAT(ErrorOf(std::string("\"a\0b\"", 5)), HasSubstr("control character in string"));
  EXPECT_THAT(ErrorOf("\"a\tb\""), HasSubstr("control character in string"));
}

TEST(JsonParse, RejectsMalformedNumbers) {
  EXPECT_EQ(ErrorOf("01"), "json: leading zero at offset 0");
  EXPECT_EQ(ErrorOf("-01"), "json: leading zero at offset 0");
  EXPECT_THAT(ErrorOf(R"({"exp":0017})"), HasSubstr("leading zero"));
  EXPECT_THAT(ErrorOf("+1"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("-"), HasSubstr("invalid number"));
  EXPECT_THAT(ErrorOf("1."), HasSubstr("invalid number"));
  EXPECT_THAT(ErrorOf(".5"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("1e"), HasSubstr("invalid number"));
  EXPECT_THAT(ErrorOf("1e+"), HasSubstr("invalid number"));
  EXPECT_THAT(ErrorOf("NaN"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("Infinity"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("0x10"), HasSubstr("trailing data"));
}

TEST(JsonParse, RejectsStructuralErrors) {
  EXPECT_THAT(ErrorOf(""), HasSubstr("unexpected end of input"));
  EXPECT_THAT(ErrorOf("   "), HasSubstr("unexpected end of input"));
  EXPECT_EQ(ErrorOf("{} x"), "json: trailing data at offset 3");
  EXPECT_THAT(ErrorOf("{}{}"), HasSubstr("trailing data"));
  EXPECT_THAT(ErrorOf("{\"a\":1,}"), HasSubstr("expected object key"));
  EXPECT_THAT(ErrorOf("[1,]"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("{'a':1}"), HasSubstr("expected object key"));
  EXPECT_THAT(ErrorOf("{a:1}"), HasSubstr("expected object key"));
  EXPECT_THAT(ErrorOf("{\"a\" 1}"), HasSubstr("expected ':'"));
  EXPECT_THAT(ErrorOf("{\"a\":1"), HasSubstr("unexpected end of input"));
  EXPECT_THAT(ErrorOf("[1 2]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(ErrorOf("\"abc"), HasSubstr("unterminated string"));
  EXPECT_THAT(ErrorOf("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(ErrorOf("True"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("nulll"), HasSubstr("trailing data"));
  // Only the four JSON whitespace characters separate tokens.
  EXPECT_THAT(ErrorOf("\f{}"), HasSubstr("unexpected character"));
  EXPECT_THAT(ErrorOf("{}\v"), HasSubstr("trailing data"));
  EXPECT_THAT(ErrorOf("\xef\xbb\xbf{}"), HasSubstr("unexpected character"));  // BOM
  EXPECT_THAT(ErrorOf("{} /* c */"), HasSubstr("trailing data"));
  EXPECT_EQ(ErrorOf(" \t\r\n{ \"a\" : [ 1 , 2 ] } \n"), "ok");
}

TEST(JsonSerialize, RoundTripsAndEscapes) {
  Json o = Json::MakeObject();
  o.Set("typ", Json::String("JWT"));
  o.Set("n", Json::Integer(-7));
  o.Set("f", Json::Float(0.1));
  o.Set("whole", Json::Float(3));
  o.Set("b", Json::Bool(true));
  o.Set("z", Json::Null());
  o.Set("s", Json::String("q\"b\\n\n\x01/\xc3\xa9"));
  Json arr = Json::MakeArray();
  arr.Append(Json::Integer(1));
  arr.Append(Json::MakeObject());
  o.Set("a", arr);
  std::string text = o.Serialize();
  EXPECT_EQ(text,
            "{\"typ\":\"JWT\",\"n\":-7,\"f\":0.1,\"whole\":3.0,\"b\":true,\"z\":null,"
            "\"s\":\"q\\\"b\\\\n\\n\\u0001/\xc3\xa9\",\"a\":[1,{}]}");
  absl::StatusOr<Json> back = ParseJson(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, o);
  EXPECT_TRUE(back->Find("whole")->is_float());
}

TEST(JsonSerialize, SetReplacesAndEraseRemoves) {
  Json o = Json::MakeObject();
  o.Set("a", Json::Integer(1));
  o.Set("b", Json::Integer(2));
  o.Set("a", Json::Integer(3));
  EXPECT_EQ(o.Serialize(), R"({"a":3,"b":2})");
  o.Erase("a");
  EXPECT_EQ(o.Serialize(), R"({"b":2})");
  o.Erase("missing");
  EXPECT_EQ(o.Serialize(), R"({"b":2})");
}

TEST(JsonSerialize, FloatsKeepFullPrecision) {
  for (double d : {1e-300, 123456789.123456789, 0.30000000000000004, -2.5e10}) {
    absl::StatusOr<Json> back = ParseJson(Json::Float(d).Serialize());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->float_value(), d);
  }
}

}  // namespace
}  // namespace trustfabric::token
