// EscapeUntrusted, GuardLogText and DescribeClaimed: what a hostile value
// becomes in a log line or a reason.
#include "common/tls/untrusted_text.h"

#include <string>

#include "gtest/gtest.h"

namespace trustfabric::tls {
namespace {

TEST(EscapeUntrustedTest, PrintableTextIsUnchanged) {
  EXPECT_EQ(EscapeUntrusted("spiffe://contoso.test/frontend/fe1"),
            "spiffe://contoso.test/frontend/fe1");
  EXPECT_EQ(EscapeUntrusted(""), "");
}

TEST(EscapeUntrustedTest, ControlQuoteBackslashAndNonAsciiBecomeHex) {
  EXPECT_EQ(EscapeUntrusted("a\nb\rc\x1b[2J"), "a\\x0ab\\x0dc\\x1b[2J");
  EXPECT_EQ(EscapeUntrusted("say \"hi\" \\ bye"), "say \\x22hi\\x22 \\x5c bye");
  EXPECT_EQ(EscapeUntrusted(std::string("nul\0x", 5)), "nul\\x00x");
  EXPECT_EQ(EscapeUntrusted("caf\xc3\xa9 \x7f"), "caf\\xc3\\xa9 \\x7f");
}

TEST(EscapeUntrustedTest, LongTextIsCutWithAnEllipsisWithinTheBound) {
  const std::string escaped = EscapeUntrusted(std::string(1000, 'a'));
  EXPECT_EQ(escaped.size(), kMaxUntrustedBytes);
  EXPECT_EQ(escaped.substr(escaped.size() - 3), "...");
  // An escape is never split by the cut.
  const std::string controls = EscapeUntrusted(std::string(100, '\n'), 20);
  EXPECT_EQ(controls, "\\x0a\\x0a\\x0a\\x0a...");
  EXPECT_LE(controls.size(), 20u);
  // Exactly at the bound: no ellipsis.
  EXPECT_EQ(EscapeUntrusted("12345678", 8), "12345678");
}

TEST(GuardLogTextTest, LeavesEscapedTextAloneAndEscapesTheRest) {
  const std::string escaped = EscapeUntrusted("x\n\"y\"\\z");
  EXPECT_EQ(GuardLogText(escaped, 1024), escaped);
  EXPECT_EQ(GuardLogText("line\nbreak \"q\" C:\\dir", 1024), "line\\x0abreak \\x22q\\x22 C:\\dir");
  EXPECT_EQ(GuardLogText(std::string(50, 'b'), 10), "bbbbbbb...");
}

TEST(DescribeClaimedTest, NamesWhatWasClaimedAndThatItIsUnverified) {
  EXPECT_EQ(DescribeClaimed({"spiffe://fabrikam.test/edge/edge1"}, {"edge1.fabrikam.test"}, "cn"),
            "claimed spiffe://fabrikam.test/edge/edge1 (edge1.fabrikam.test), unverified");
  EXPECT_EQ(DescribeClaimed({}, {"a.test", "b.test"}, ""), "claimed a.test, b.test, unverified");
  EXPECT_EQ(DescribeClaimed({"urn:x"}, {}, ""), "claimed urn:x, unverified");
  EXPECT_EQ(DescribeClaimed({}, {}, "evil\ncn"), "claimed cn=evil\\x0acn, unverified");
  EXPECT_EQ(DescribeClaimed({}, {}, ""), "unverified peer");
  EXPECT_EQ(DescribeClaimed({}, {"1.t", "2.t", "3.t", "4.t", "5.t", "6.t"}, ""),
            "claimed 1.t, 2.t, 3.t, 4.t +2 more, unverified");
}

}  // namespace
}  // namespace trustfabric::tls
