#include "common/pki/openssl_ptr.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <string>

#include "gtest/gtest.h"

namespace trustfabric::pki {
namespace {

TEST(PkiConsumeOpenSslError, FallbackWhenQueueIsEmpty) {
  ERR_clear_error();
  EXPECT_EQ(ConsumeOpenSslError("nothing queued"), "nothing queued");
}

TEST(PkiConsumeOpenSslError, ReturnsLowerCaseReasonAndClearsQueue) {
  ERR_clear_error();
  const unsigned char garbage[] = {0x30, 0x82, 0xff, 0xff, 0x01};
  const unsigned char* p = garbage;
  X509Ptr x(d2i_X509(nullptr, &p, sizeof(garbage)));
  ASSERT_EQ(x, nullptr);
  ASSERT_NE(ERR_peek_error(), 0u);
  const std::string text = ConsumeOpenSslError("fallback");
  EXPECT_NE(text, "fallback");
  EXPECT_FALSE(text.empty());
  for (char c : text) EXPECT_FALSE(c >= 'A' && c <= 'Z') << text;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace trustfabric::pki
