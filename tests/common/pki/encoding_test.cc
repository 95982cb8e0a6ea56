#include "common/pki/encoding.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(PkiDigest, KnownVectors) {
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha1("abc")), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256("x").size(), 32u);
  EXPECT_EQ(Sha1("x").size(), 20u);
}

TEST(PkiHex, RoundTripAndCase) {
  const std::string bytes("\x00\x01\xab\xff", 4);
  EXPECT_EQ(HexEncode(bytes), "0001abff");
  EXPECT_EQ(*HexDecode("0001abff"), bytes);
  EXPECT_EQ(*HexDecode("0001ABFF"), bytes);
  EXPECT_EQ(*HexDecode(""), "");
}

TEST(PkiHex, RejectsOddLengthAndBadCharacters) {
  EXPECT_THAT(HexDecode("abc"), StatusIs(kInvalid, "hex: odd length 3"));
  EXPECT_THAT(HexDecode("0g"), StatusIs(kInvalid, "invalid character at position 1"));
  EXPECT_THAT(HexDecode("x0"), StatusIs(kInvalid, "invalid character at position 0"));
  EXPECT_THAT(HexDecode("00 0"), StatusIs(kInvalid, "position 2"));
}

// RFC 4648 §10's vectors: base64url without padding, base64 with it.
struct Rfc4648Vector {
  const char* bytes;
  const char* url;
  const char* padded;
};
constexpr Rfc4648Vector kRfc4648Vectors[] = {
    {"", "", ""},           {"f", "Zg", "Zg=="},           {"fo", "Zm8", "Zm8="},
    {"foo", "Zm9v", "Zm9v"}, {"foob", "Zm9vYg", "Zm9vYg=="}, {"fooba", "Zm9vYmE", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

TEST(PkiBase64, Rfc4648VectorsUrlUnpaddedAndStandardPadded) {
  for (const Rfc4648Vector& v : kRfc4648Vectors) {
    SCOPED_TRACE(v.bytes);
    EXPECT_EQ(Base64UrlEncode(v.bytes), v.url);
    EXPECT_EQ(*Base64UrlDecode(v.url), v.bytes);
    EXPECT_EQ(Base64Encode(v.bytes), v.padded);
    EXPECT_EQ(*Base64Decode(v.padded), v.bytes);
  }
}

TEST(PkiBase64Url, UsesUrlAlphabet) {
  const std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64UrlEncode(bytes), "-_-_");
  EXPECT_EQ(Base64Encode(bytes), "+/+/");
  EXPECT_EQ(*Base64UrlDecode("-_-_"), bytes);
  EXPECT_THAT(Base64UrlDecode("+/+/"), StatusIs(kInvalid, "invalid character at position 0"));
}

TEST(PkiBase64Url, RoundTripsEveryLength) {
  std::string bytes;
  for (int i = 0; i < 70; ++i) {
    const std::string encoded = Base64UrlEncode(bytes);
    EXPECT_EQ(encoded.find('='), std::string::npos);
    absl::StatusOr<std::string> decoded = Base64UrlDecode(encoded);
    ASSERT_THAT(decoded, IsOk()) << "length " << i;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(i * 37 + 11));
  }
}

// An input a decoder refuses, and what its InvalidArgument message holds.
struct Refused {
  std::string input;
  std::string message;
};

// Expects `decode` to refuse every input of `cases` as InvalidArgument.
void ExpectRefused(absl::StatusOr<std::string> (*decode)(absl::string_view),
                   const std::vector<Refused>& cases) {
  for (const Refused& c : cases) {
    EXPECT_THAT(decode(c.input), StatusIs(kInvalid, c.message)) << absl::CHexEscape(c.input);
  }
}

TEST(PkiBase64Url, RejectsNonCanonicalTrailingBits) {
  // "Zg" is the only encoding of "f": 'h' sets one of the 4 unused bits.
  // Two unused bits after two bytes: "Zm8" is canonical, "Zm9" is not.
  EXPECT_THAT(Base64UrlDecode("Zg"), IsOk());
  EXPECT_THAT(Base64UrlDecode("Zm8"), IsOk());
  ExpectRefused(Base64UrlDecode, {
                                     {"Zh", "non-canonical trailing bits at position 1"},
                                     {"Zv", "non-canonical"},
                                     {"Zm9", "non-canonical trailing bits at position 2"},
                                     {"Zm9vZm9", "non-canonical"},
                                 });
}

TEST(PkiBase64Url, RejectsPaddingWhitespaceAndBadLength) {
  ExpectRefused(Base64UrlDecode, {
                                     {"Zg==", "padding at position 2 is not allowed"},
                                     {"Zm8=", "padding at position 3"},
                                     {"Zm9v\n", "invalid length 5"},
                                     {"Zm 9v", "invalid length 5"},
                                     {"Zm9v Zg", "invalid character at position 4"},
                                     {"Zm9vY", "invalid length 5 (truncated input)"},
                                     {"A", "invalid length 1"},
                                     {std::string("Zm\0v", 4), "position 2"},
                                     {"Zm9v\xc3\xa9Zg", "position 4"},
                                 });
}

TEST(PkiBase64, StrictDecoding) {
  ExpectRefused(Base64Decode, {
                                  {"Zg", "base64: invalid length 2"},
                                  {"Zh==", "base64: non-canonical"},
                                  {"Z===", "padding at position 1"},
                                  {"Zg==Zg==", "padding at position 2"},
                                  {"-_-_", "invalid character at position 0"},
                              });
}

}  // namespace
}  // namespace trustfabric::pki
