#include "server/node/disclosure.h"

#include <string>

#include "gtest/gtest.h"

namespace trustfabric::node {
namespace {

// What a routing failure inside either domain looks like to the client: the
// class and the recipient, never the nodes.
TEST(ForSendClientTest, KeepsTheClassAndDropsHostsAndPaths) {
  const std::string detail =
      "edge1.contoso.test: relay to fabrikam.test via edge1.fabrikam.test: registrar: user "
      "nobody@fabrikam.test is not registered (127.0.0.1:7443)";
  auto expect = [&](absl::StatusCode in, absl::StatusCode out, const std::string& message) {
    absl::Status s = ForSendClient(absl::Status(in, detail), "nobody@fabrikam.test", "1a2b");
    EXPECT_EQ(s.code(), out) << absl::StatusCodeToString(in);
    EXPECT_EQ(s.message(), message) << absl::StatusCodeToString(in);
  };
  expect(absl::StatusCode::kNotFound, absl::StatusCode::kNotFound,
         "to: no such recipient nobody@fabrikam.test");
  expect(absl::StatusCode::kResourceExhausted, absl::StatusCode::kResourceExhausted,
         "to: nobody@fabrikam.test cannot take more messages now; retry later (message 1a2b)");
  for (absl::StatusCode in :
       {absl::StatusCode::kUnavailable, absl::StatusCode::kDeadlineExceeded}) {
    expect(in, absl::StatusCode::kUnavailable,
           "to: fabrikam.test cannot be reached now; retry later (message 1a2b)");
  }
  for (absl::StatusCode in : {absl::StatusCode::kPermissionDenied,
                              absl::StatusCode::kUnauthenticated, absl::StatusCode::kInternal}) {
    expect(in, absl::StatusCode::kFailedPrecondition,
           "to: messages to fabrikam.test cannot be delivered (message 1a2b)");
  }
  EXPECT_TRUE(ForSendClient(absl::OkStatus(), "a@b.test", "1").ok());
}

TEST(ForSignInClientTest, NamesNoRegistrar) {
  absl::Status down = ForSignInClient(
      absl::UnavailableError("registrar: failed to connect to all addresses; 127.0.0.1:7001"));
  EXPECT_EQ(down.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(down.message(), "sign-in is unavailable now; retry later");
  absl::Status full = ForSignInClient(absl::ResourceExhaustedError("registrar is full (5 users)"));
  EXPECT_EQ(full.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(full.message(), "sign-in is not possible now");
}

TEST(ForPartnerEdgeTest, NamesOnlyTheRecipient) {
  const std::string detail = "fe1.fabrikam.test: connection refused (127.0.0.1:7443)";
  absl::Status s = ForPartnerEdge(absl::NotFoundError("registrar: user x is not registered"),
                                  "bob@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s.message(), "message.to: no such recipient bob@fabrikam.test");
  s = ForPartnerEdge(absl::UnavailableError(detail), "bob@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "message.to: bob@fabrikam.test cannot be reached now");
  s = ForPartnerEdge(absl::FailedPreconditionError(detail), "bob@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  s = ForPartnerEdge(absl::ResourceExhaustedError("mailbox of bob is full"), "bob@fabrikam.test");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(s.message(), "message.to: bob@fabrikam.test cannot take more messages now");
}

}  // namespace
}  // namespace trustfabric::node
