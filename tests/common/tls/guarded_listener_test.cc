// The listener bounds a configuration asks for, and what a bad one is told.
#include "common/tls/guarded_listener.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace trustfabric::tls {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The five bounds of `limits`, in the order ListenerConfig lists them.
std::vector<int64_t> Bounds(const net::ListenerLimits& limits) {
  return {limits.max_connections, limits.max_connections_per_source, limits.max_handshaking,
          limits.max_handshaking_per_source, absl::ToInt64Seconds(limits.handshake_timeout)};
}

TEST(LimitsOfTest, UnsetFieldsTakeTheDesignDefaults) {
  v1::ListenerConfig config;
  config.set_address("127.0.0.1:0");
  auto limits = LimitsOf(config, "client_listen");
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_THAT(Bounds(*limits), ElementsAre(4096, 256, 512, 32, 10));
}

TEST(LimitsOfTest, SetFieldsAreTaken) {
  v1::ListenerConfig config;
  config.set_max_connections(100);
  config.set_max_connections_per_source(10);
  config.set_max_handshaking(20);
  config.set_max_handshaking_per_source(5);
  config.set_handshake_timeout_seconds(3);
  auto limits = LimitsOf(config, "listen");
  ASSERT_TRUE(limits.ok()) << limits.status();
  EXPECT_THAT(Bounds(*limits), ElementsAre(100, 10, 20, 5, 3));
}

TEST(LimitsOfTest, ErrorsNameTheFieldAndTheRule) {
  struct Case {
    std::function<void(v1::ListenerConfig*)> set;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](v1::ListenerConfig* c) { c->set_max_connections(-1); },
       "federation_listen.max_connections: must not be negative"},
      {[](v1::ListenerConfig* c) { c->set_handshake_timeout_seconds(30); },
       "federation_listen.handshake_timeout_seconds: must be from 1 to 10"},
      {[](v1::ListenerConfig* c) {
         c->set_max_connections(10);
         c->set_max_connections_per_source(20);
       },
       "federation_listen.max_connections_per_source: must not exceed max_connections"},
      {[](v1::ListenerConfig* c) { c->set_max_handshaking_per_source(1000); },
       "federation_listen.max_handshaking_per_source: must not exceed max_handshaking"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    v1::ListenerConfig config;
    c.set(&config);
    auto limits = LimitsOf(config, "federation_listen");
    ASSERT_FALSE(limits.ok());
    EXPECT_EQ(limits.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(limits.status().message()), HasSubstr(c.message));
  }
}

TEST(GuardedListenerTest, ABadAddressNamesItsField) {
  v1::ListenerConfig config;
  config.set_address("nowhere");
  auto l = GuardedListener::Bind("client", config, "client_listen");
  ASSERT_FALSE(l.ok());
  EXPECT_THAT(std::string(l.status().message()), HasSubstr("client_listen.address: "));
}

}  // namespace
}  // namespace trustfabric::tls
