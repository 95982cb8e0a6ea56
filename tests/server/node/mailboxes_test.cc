#include "server/node/mailboxes.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace trustfabric::node {
namespace {

using ::trustfabric::testing::StatusIs;

v1::Message Msg(const std::string& to, const std::string& body) {
  v1::Message m;
  m.set_id(body);
  m.set_from("alice@contoso.test");
  m.set_to(to);
  m.set_body(body);
  return m;
}

TEST(Mailboxes, OfflineMessagesQueueAndArriveInOrder) {
  Mailboxes boxes(10);
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
  Mailboxes boxes(2);
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
  Mailboxes boxes(10);
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
  Mailboxes boxes(10);
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "1")).ok());
  ASSERT_TRUE(boxes.Deliver(Msg("bob@fabrikam.test", "2")).ok());
  auto r = boxes.Attach("bob@fabrikam.test", [] {});
  v1::Message first = *r->Next();
  r->PutBack(first);
  EXPECT_EQ(r->Next()->body(), "1");
}

TEST(Mailboxes, ConcurrentDeliveriesLoseNothing) {
  Mailboxes boxes(100000);
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

}  // namespace
}  // namespace trustfabric::node
