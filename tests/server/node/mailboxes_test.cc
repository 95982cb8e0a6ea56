#include "server/node/mailboxes.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/eventually.h"
#include "tests/testing/movable_clock.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/vocabulary.h"

namespace trustfabric::node {
namespace {

MailboxLimits PerUser(size_t n) {
  MailboxLimits limits;
  limits.per_user = n;
  return limits;
}

v1::Message Msg(const std::string& to, const std::string& body) {
  v1::Message m;
  m.set_id(body);
  m.set_from("alice@contoso.test");
  m.set_to(to);
  m.set_body(body);
  return m;
}

TEST(Mailboxes, OfflineMessagesQueueAndArriveInOrder) {
  Mailboxes boxes(PerUser(10));
  EXPECT_EQ(*boxes.Deliver(Msg("bob@fabrikam.test", "1")), "queued");
  EXPECT_EQ(*boxes.Deliver(Msg("bob@fabrikam.test", "2")), "queued");
  int wakes = 0;
  auto r = boxes.Attach("bob@fabrikam.test", [&] { ++wakes; });
  EXPECT_EQ(r->Next()->body(), "1");
  EXPECT_EQ(*boxes.Deliver(Msg("bob@fabrikam.test", "3")), "delivered");
  EXPECT_EQ(wakes, 1);
  EXPECT_EQ(r->Next()->body(), "2");
  EXPECT_EQ(r->Next()->body(), "3");
  EXPECT_FALSE(r->Next().has_value());
}

TEST(Mailboxes, FullQueueRefusesAndKeepsWhatItHas) {
  Mailboxes boxes(PerUser(2));
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "1")).ok());
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "2")).ok());
  EXPECT_THAT(boxes.Deliver(Msg("bob@fabrikam.test", "3")),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "mailbox of bob@fabrikam.test is full (2 messages waiting)"));
  EXPECT_EQ(boxes.queued("bob@fabrikam.test"), 2u);
  // Other users are unaffected.
  EXPECT_TRUE(boxes.Deliver(Msg("carol@fabrikam.test", "1")).ok());
}

TEST(Mailboxes, NewerStreamSupersedesOlderAndDetachGoesBackToQueueing) {
  Mailboxes boxes(PerUser(10));
  int old_wakes = 0;
  auto old_stream = boxes.Attach("bob@fabrikam.test", [&] { ++old_wakes; });
  auto new_stream = boxes.Attach("bob@fabrikam.test", [] {});
  EXPECT_EQ(old_wakes, 1);  // told to look: it is superseded
  EXPECT_TRUE(old_stream->superseded());
  EXPECT_FALSE(new_stream->superseded());
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "x")).ok());
  EXPECT_FALSE(old_stream->Next().has_value());
  new_stream.reset();
  EXPECT_EQ(*boxes.Deliver(Msg("bob@fabrikam.test", "y")), "queued");
}

TEST(Mailboxes, PutBackKeepsAnUnwrittenMessageFirst) {
  Mailboxes boxes(PerUser(10));
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "1")).ok());
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "2")).ok());
  auto r = boxes.Attach("bob@fabrikam.test", [] {});
  v1::Message first = *r->Next();
  r->PutBack(first);
  EXPECT_EQ(r->Next()->body(), "1");
}

TEST(Mailboxes, ConcurrentDeliveriesLoseNothing) {
  Mailboxes boxes(PerUser(100000));
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) {
    senders.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) {
        ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", std::to_string(t * 1000 + i))).ok());
      }
    });
  }
  for (auto& s : senders) s.join();
  auto r = boxes.Attach("bob@fabrikam.test", [] {});
  int n = 0;
  while (r->Next()) ++n;
  EXPECT_EQ(n, 4000);
}

// The memory of one queued message as Mailboxes counts it.
size_t BytesOf(const v1::Message& m) { return m.SpaceUsedLong(); }

TEST(Mailboxes, TheTotalBoundRefusesNamingNoUserAndFreesAsMessagesLeave) {
  const v1::Message sample = Msg("u0@contoso.test", "0123456789");
  MailboxLimits limits;
  limits.total_bytes = 3 * BytesOf(sample);
  Mailboxes boxes(limits);
  ASSERT_THAT(boxes.Deliver(Msg("u0@contoso.test", "0123456789")), IsOk());
  ASSERT_THAT(boxes.Deliver(Msg("u1@contoso.test", "0123456789")), IsOk());
  ASSERT_THAT(boxes.Deliver(Msg("u2@contoso.test", "0123456789")), IsOk());
  absl::StatusOr<std::string> refused = boxes.Deliver(Msg("u3@contoso.test", "0123456789"));
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kResourceExhausted,
                                absl::StrCat("mailboxes are full: queued messages would exceed ",
                                             limits.total_bytes,
                                             " bytes (max_queued_message_bytes)")));
  for (const char* user : {"u0@", "u1@", "u2@", "u3@"}) {
    EXPECT_THAT(std::string(refused.status().message()), Not(HasSubstr(user)));
  }
  MailboxCounts counts = boxes.counts();
  EXPECT_EQ(counts.queued_messages, 3u);
  EXPECT_EQ(counts.queued_bytes, 3 * BytesOf(sample));
  EXPECT_EQ(counts.refused_total, 1u);
  EXPECT_EQ(counts.refused_per_user, 0u);
  EXPECT_EQ(boxes.queued("u3@contoso.test"), 0u);

  // u0 reads its message: there is room again.
  auto r = boxes.Attach("u0@contoso.test", [] {});
  ASSERT_TRUE(r->Next().has_value());
  EXPECT_EQ(boxes.counts().queued_bytes, 2 * BytesOf(sample));
  EXPECT_THAT(boxes.Deliver(Msg("u3@contoso.test", "0123456789")), IsOk());
}

TEST(Mailboxes, PerUserRefusalsAreCountedApart) {
  Mailboxes boxes(PerUser(1));
  ASSERT_THAT(boxes.Deliver(Msg("bob@contoso.test", "1")), IsOk());
  EXPECT_THAT(boxes.Deliver(Msg("bob@contoso.test", "2")),
              StatusIs(absl::StatusCode::kResourceExhausted, "mailbox of bob@contoso.test"));
  EXPECT_EQ(boxes.counts().refused_per_user, 1u);
  EXPECT_EQ(boxes.counts().refused_total, 0u);
}

TEST(Mailboxes, AFloodAcrossTenThousandOfflineUsersStaysWithinTheBound) {
  MailboxLimits limits;
  limits.total_bytes = 1 << 20;
  Mailboxes boxes(limits);
  const std::string body(1000, 'x');
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < 10000; ++i) {
    for (int j = 0; j < 3; ++j) {
      absl::StatusOr<std::string> d = boxes.Deliver(Msg(absl::StrCat("u", i, "@contoso.test"), body));
      if (d.ok()) {
        ++accepted;
      } else {
        ASSERT_THAT(d, StatusIs(absl::StatusCode::kResourceExhausted, "mailboxes are full"));
        ++refused;
      }
    }
  }
  const MailboxCounts counts = boxes.counts();
  EXPECT_LE(counts.queued_bytes, limits.total_bytes);
  EXPECT_GT(counts.queued_bytes, limits.total_bytes - 2 * BytesOf(Msg("u0@contoso.test", body)));
  EXPECT_EQ(counts.queued_messages, static_cast<size_t>(accepted));
  EXPECT_EQ(counts.refused_total, static_cast<uint64_t>(refused));
  EXPECT_GT(refused, 0);
}

// Mailboxes on a clock the test moves.
class MailboxExpiryTest : public ::testing::Test {
 protected:
  // `per_user` 0: the default.
  std::unique_ptr<Mailboxes> Boxes(absl::Duration max_age, size_t per_user = 0) {
    MailboxLimits limits = PerUser(per_user);
    limits.max_age = max_age;
    return std::make_unique<Mailboxes>(limits, clock_.AsClock());
  }

  testing::MovableClock clock_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(MailboxExpiryTest, QueuedMessagesExpireWhenRead) {
  std::unique_ptr<Mailboxes> boxes = Boxes(absl::Hours(24));
  ASSERT_THAT(boxes->Deliver(Msg("bob@contoso.test", "old")), IsOk());
  clock_.Advance(absl::Hours(23));
  ASSERT_THAT(boxes->Deliver(Msg("bob@contoso.test", "new")), IsOk());
  clock_.Advance(absl::Hours(1));  // "old" is 24 h old now, "new" 1 h
  auto r = boxes->Attach("bob@contoso.test", [] {});
  std::optional<v1::Message> next = r->Next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), "new");
  EXPECT_FALSE(r->Next().has_value());
  MailboxCounts counts = boxes->counts();
  EXPECT_EQ(counts.expired, 1u);
  EXPECT_EQ(counts.queued_messages, 0u);
  EXPECT_EQ(counts.queued_bytes, 0u);
}

TEST_F(MailboxExpiryTest, AnExpiredMessageMakesRoomInItsQueue) {
  std::unique_ptr<Mailboxes> boxes = Boxes(absl::Minutes(10), /*per_user=*/1);
  ASSERT_THAT(boxes->Deliver(Msg("bob@contoso.test", "1")), IsOk());
  EXPECT_THAT(boxes->Deliver(Msg("bob@contoso.test", "2")),
              StatusIs(absl::StatusCode::kResourceExhausted, "mailbox of bob@contoso.test"));
  clock_.Advance(absl::Minutes(10));
  EXPECT_THAT(boxes->Deliver(Msg("bob@contoso.test", "3")), IsOk());
  EXPECT_EQ(boxes->queued("bob@contoso.test"), 1u);
  EXPECT_EQ(boxes->counts().expired, 1u);
}

TEST_F(MailboxExpiryTest, SweepDropsExpiredMessagesOfUsersWhoNeverReturn) {
  std::unique_ptr<Mailboxes> boxes = Boxes(absl::Hours(1));
  for (int i = 0; i < 100; ++i) {
    ASSERT_THAT(boxes->Deliver(Msg(absl::StrCat("u", i, "@contoso.test"), "x")), IsOk());
  }
  clock_.Advance(absl::Minutes(30));
  ASSERT_THAT(boxes->Deliver(Msg("late@contoso.test", "x")), IsOk());
  EXPECT_EQ(boxes->Sweep(), 0u);
  clock_.Advance(absl::Minutes(30));
  EXPECT_EQ(boxes->Sweep(), 100u);
  MailboxCounts counts = boxes->counts();
  EXPECT_EQ(counts.expired, 100u);
  EXPECT_EQ(counts.queued_messages, 1u);
  EXPECT_EQ(counts.queued_bytes, BytesOf(Msg("late@contoso.test", "x")));
  EXPECT_EQ(boxes->queued("late@contoso.test"), 1u);
}

TEST_F(MailboxExpiryTest, ThePeriodicSweepRunsOnItsOwn) {
  std::unique_ptr<Mailboxes> boxes = Boxes(absl::Hours(1));
  ASSERT_THAT(boxes->Deliver(Msg("bob@contoso.test", "x")), IsOk());
  clock_.Advance(absl::Hours(2));
  boxes->StartSweeping(absl::Milliseconds(10));
  EXPECT_TRUE(testing::Eventually([&] { return boxes->counts().expired == 1; }, absl::Seconds(10)));
  EXPECT_EQ(boxes->counts().queued_bytes, 0u);
}

TEST_F(MailboxExpiryTest, APutBackMessageKeepsItsAge) {
  std::unique_ptr<Mailboxes> boxes = Boxes(absl::Hours(1));
  ASSERT_THAT(boxes->Deliver(Msg("bob@contoso.test", "x")), IsOk());
  auto r = boxes->Attach("bob@contoso.test", [] {});
  clock_.Advance(absl::Minutes(59));
  std::optional<v1::Message> m = r->Next();
  ASSERT_TRUE(m.has_value());
  r->PutBack(*m);
  EXPECT_EQ(boxes->counts().queued_bytes, BytesOf(*m));
  clock_.Advance(absl::Minutes(1));
  EXPECT_FALSE(r->Next().has_value());
  EXPECT_EQ(boxes->counts().expired, 1u);
}

}  // namespace
}  // namespace trustfabric::node
