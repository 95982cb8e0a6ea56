#include "server/node/recipient_limiter.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace trustfabric::node {
namespace {

class RecipientLimiterTest : public ::testing::Test {
 protected:
  UnknownRecipientLimiter::Options Opts(size_t burst, absl::Duration refill,
                                        size_t max_callers = 100) {
    UnknownRecipientLimiter::Options o;
    o.burst = burst;
    o.refill = refill;
    o.max_callers = max_callers;
    o.clock = [this] { return now_; };
    return o;
  }

  absl::Time now_ = absl::FromUnixSeconds(1700000000);
};

TEST_F(RecipientLimiterTest, RefusesEverySendOnceTheBurstIsSpentUntilItRefills) {
  UnknownRecipientLimiter limiter(Opts(3, absl::Seconds(30)));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(limiter.Check("mallory@contoso.test").ok()) << i;
    limiter.RecordUnknown("mallory@contoso.test");
  }
  absl::Status refused = limiter.Check("mallory@contoso.test");
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(), "too many unknown recipients; retry after 30s");
  // Other callers are not affected.
  EXPECT_TRUE(limiter.Check("alice@contoso.test").ok());

  now_ += absl::Seconds(20);
  EXPECT_EQ(limiter.Check("mallory@contoso.test").message(),
            "too many unknown recipients; retry after 10s");
  now_ += absl::Seconds(10);
  EXPECT_TRUE(limiter.Check("mallory@contoso.test").ok());
  limiter.RecordUnknown("mallory@contoso.test");
  EXPECT_EQ(limiter.Check("mallory@contoso.test").code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(RecipientLimiterTest, RetryAfterIsAtLeastOneSecond) {
  UnknownRecipientLimiter limiter(Opts(1, absl::Milliseconds(10)));
  limiter.RecordUnknown("mallory@contoso.test");
  EXPECT_EQ(limiter.Check("mallory@contoso.test").message(),
            "too many unknown recipients; retry after 1s");
}

TEST_F(RecipientLimiterTest, RefilledCallersAreForgottenAndTheTableIsBounded) {
  UnknownRecipientLimiter limiter(Opts(2, absl::Seconds(1), /*max_callers=*/3));
  limiter.RecordUnknown("a@contoso.test");
  EXPECT_EQ(limiter.tracked(), 1u);
  now_ += absl::Seconds(5);
  EXPECT_TRUE(limiter.Check("a@contoso.test").ok());
  EXPECT_EQ(limiter.tracked(), 0u);

  for (int i = 0; i < 10; ++i) {
    const std::string caller = absl::StrCat("u", i, "@contoso.test");
    limiter.RecordUnknown(caller);
    limiter.RecordUnknown(caller);
  }
  EXPECT_EQ(limiter.tracked(), 3u);
  // The most recently charged callers are the ones kept.
  EXPECT_EQ(limiter.Check("u9@contoso.test").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(limiter.Check("u7@contoso.test").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limiter.Check("u0@contoso.test").ok());
}

TEST_F(RecipientLimiterTest, NonsenseOptionsAreRaisedToTheirMinimum) {
  UnknownRecipientLimiter limiter(Opts(0, absl::ZeroDuration(), 0));
  EXPECT_TRUE(limiter.Check("a@contoso.test").ok());
  limiter.RecordUnknown("a@contoso.test");
  EXPECT_EQ(limiter.Check("a@contoso.test").message(),
            "too many unknown recipients; retry after 1s");
  limiter.RecordUnknown("b@contoso.test");
  EXPECT_EQ(limiter.tracked(), 1u);
}

}  // namespace
}  // namespace trustfabric::node
