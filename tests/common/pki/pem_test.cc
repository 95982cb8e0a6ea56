#include "common/pki/pem.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/pki/certificate.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::pki {
namespace {

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(PkiPemEncode, WrapsAt64Columns) {
  const std::string der(100, 'x');
  const std::string pem = PemEncode("CERTIFICATE", der);
  EXPECT_EQ(pem.rfind("-----BEGIN CERTIFICATE-----\n", 0), 0u);
  EXPECT_NE(pem.find("\n-----END CERTIFICATE-----\n"), std::string::npos);
  absl::StatusOr<std::vector<PemBlock>> blocks = ScanPem(pem);
  ASSERT_THAT(blocks, IsOk());
  ASSERT_EQ(blocks->size(), 1u);
  EXPECT_EQ((*blocks)[0].label, "CERTIFICATE");
  EXPECT_EQ((*blocks)[0].text, absl::string_view(pem).substr(0, pem.size() - 1));
  EXPECT_EQ(*DecodePemBody((*blocks)[0]), der);
  // 100 bytes -> 136 base64 characters -> lines of 64, 64, 8.
  std::vector<size_t> lengths;
  for (absl::string_view line : absl::StrSplit(pem, '\n')) lengths.push_back(line.size());
  EXPECT_THAT(lengths, ::testing::ElementsAre(27, 64, 64, 8, 25, 0));
}

TEST(PkiScanPem, SplitsSeveralBlocksWithWhitespace) {
  const std::string text = "\n  " + PemEncode("CERTIFICATE", "a") + "\r\n\n" +
                           PemEncode("PRIVATE KEY", "b") + "\t\n";
  absl::StatusOr<std::vector<PemBlock>> blocks = ScanPem(text);
  ASSERT_THAT(blocks, IsOk());
  ASSERT_EQ(blocks->size(), 2u);
  EXPECT_EQ((*blocks)[1].label, "PRIVATE KEY");
  EXPECT_EQ(*DecodePemBody((*blocks)[1]), "b");
}

TEST(PkiScanPem, AcceptsCrlfLineEndings) {
  std::string pem = PemEncode("CERTIFICATE", "abc");
  std::string crlf;
  for (char c : pem) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  absl::StatusOr<std::vector<PemBlock>> blocks = ScanPem(crlf);
  ASSERT_THAT(blocks, IsOk());
  EXPECT_EQ(*DecodePemBody((*blocks)[0]), "abc");
}

TEST(PkiScanPem, RejectsStructuralErrors) {
  const std::string good = PemEncode("CERTIFICATE", "abc");
  EXPECT_THAT(ScanPem(""), StatusIs(kInvalid, "pem: empty input"));
  EXPECT_THAT(ScanPem(" \n\t"), StatusIs(kInvalid, "pem: empty input"));
  EXPECT_THAT(ScanPem(std::string(kMaxPemBytes + 1, ' ')),
              StatusIs(kInvalid, "exceeds the limit of 1048576"));
  EXPECT_THAT(ScanPem("hello\n" + good), StatusIs(kInvalid, "no BEGIN line at the start"));
  EXPECT_THAT(ScanPem(good + "junk"), StatusIs(kInvalid, "pem: trailing garbage after block 1"));
  EXPECT_THAT(ScanPem(good + good + "x"), StatusIs(kInvalid, "trailing garbage after block 2"));
  EXPECT_THAT(ScanPem(good.substr(0, good.size() - 1) + "x\n"),
              StatusIs(kInvalid, "trailing garbage after block 1"));
  EXPECT_THAT(ScanPem(good.substr(0, good.size() / 2)),
              StatusIs(kInvalid, "pem block 1: truncated (missing END CERTIFICATE line)"));
  EXPECT_THAT(ScanPem(good + good.substr(0, 40) + "\n" + good),
              StatusIs(kInvalid, "pem block 2: truncated"));
  EXPECT_THAT(ScanPem("-----BEGIN CERTIFICATE-----\nYWJj\n-----END PRIVATE KEY-----\n"),
              StatusIs(kInvalid, "pem block 1: END line does not match BEGIN line"));
  EXPECT_THAT(ScanPem("-----BEGIN CERTIFICATE"), StatusIs(kInvalid, "truncated BEGIN line"));
  EXPECT_THAT(ScanPem("-----BEGIN -----\n-----END -----\n"), StatusIs(kInvalid, "invalid label"));
  EXPECT_THAT(ScanPem("-----BEGIN cert-----\n-----END cert-----\n"),
              StatusIs(kInvalid, "invalid label"));
  EXPECT_THAT(ScanPem("-----BEGIN CERTIFICATE-----x\nYWJj\n-----END CERTIFICATE-----\n"),
              StatusIs(kInvalid, "text after BEGIN line"));
}

TEST(PkiDecodePemBody, RejectsHeadersAndBadBase64) {
  absl::StatusOr<std::vector<PemBlock>> blocks = ScanPem(
      "-----BEGIN CERTIFICATE-----\nProc-Type: 4,ENCRYPTED\n\nYWJj\n-----END CERTIFICATE-----\n");
  ASSERT_THAT(blocks, IsOk());
  EXPECT_TRUE((*blocks)[0].has_headers);
  EXPECT_THAT(DecodePemBody((*blocks)[0]), StatusIs(kInvalid, "unexpected pem headers"));

  blocks = ScanPem("-----BEGIN CERTIFICATE-----\nYW*j\n-----END CERTIFICATE-----\n");
  ASSERT_THAT(blocks, IsOk());
  EXPECT_THAT(DecodePemBody((*blocks)[0]), StatusIs(kInvalid, "base64: invalid character"));

  blocks = ScanPem("-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n");
  ASSERT_THAT(blocks, IsOk());
  EXPECT_THAT(DecodePemBody((*blocks)[0]), StatusIs(kInvalid, "empty pem body"));
}

TEST(PkiDescribePemLabel, NamesCommonKinds) {
  EXPECT_EQ(DescribePemLabel("PRIVATE KEY"), "private key");
  EXPECT_EQ(DescribePemLabel("EC PRIVATE KEY"), "private key");
  EXPECT_EQ(DescribePemLabel("ENCRYPTED PRIVATE KEY"), "private key");
  EXPECT_EQ(DescribePemLabel("CERTIFICATE REQUEST"), "certificate request");
  EXPECT_EQ(DescribePemLabel("X509 CRL"), "crl");
  EXPECT_EQ(DescribePemLabel("FOO BAR"), "\"foo bar\" block");
}

}  // namespace
}  // namespace trustfabric::pki
