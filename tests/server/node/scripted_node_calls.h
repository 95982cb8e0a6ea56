// NodeCalls for unit tests of the node rules: records every call (target
// and request) and answers from handlers the test sets; a call with no
// handler fails with UNIMPLEMENTED naming the method.
//
//   testing::ScriptedNodeCalls calls;
//   calls.on_lookup = [](const node::NodeTarget&, const v1::LookupRequest& r)
//       -> absl::StatusOr<v1::LookupResponse> { return absl::NotFoundError("..."); };
//   node::EdgeRelay relay(&config, &holder, &calls);
//   ... EXPECT_EQ(calls.log()[0].method, "Lookup");
#ifndef TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_NODE_CALLS_H_
#define TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_NODE_CALLS_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/node/node_calls.h"

namespace trustfabric::testing {

class ScriptedNodeCalls final : public node::NodeCalls {
 public:
  // One call as made: the method ("Register", "Lookup", "Deliver",
  // "Relay"), where it went, and the user (Register, Lookup) or message
  // (Deliver, Relay) it carried.
  struct Call {
    std::string method;
    node::NodeTarget target;
    std::string user;
    v1::Message message;
  };

  // Set before the first call.
  std::function<absl::Status(const node::NodeTarget&, const v1::RegisterRequest&)> on_register;
  std::function<absl::StatusOr<v1::LookupResponse>(const node::NodeTarget&,
                                                   const v1::LookupRequest&)>
      on_lookup;
  std::function<absl::StatusOr<v1::DeliverResponse>(const node::NodeTarget&,
                                                    const v1::DeliverRequest&)>
      on_deliver;
  std::function<absl::StatusOr<v1::RelayResponse>(const node::NodeTarget&, const v1::RelayRequest&)>
      on_relay;

  absl::Status Register(const node::NodeTarget& registrar,
                        const v1::RegisterRequest& request) override {
    Record({"Register", registrar, request.user(), {}});
    return on_register ? on_register(registrar, request) : Unscripted("Register");
  }
  absl::StatusOr<v1::LookupResponse> Lookup(const node::NodeTarget& registrar,
                                            const v1::LookupRequest& request) override {
    Record({"Lookup", registrar, request.user(), {}});
    if (!on_lookup) return Unscripted("Lookup");
    return on_lookup(registrar, request);
  }
  absl::StatusOr<v1::DeliverResponse> Deliver(const node::NodeTarget& frontend,
                                              const v1::DeliverRequest& request) override {
    Record({"Deliver", frontend, "", request.message()});
    if (!on_deliver) return Unscripted("Deliver");
    return on_deliver(frontend, request);
  }
  absl::StatusOr<v1::RelayResponse> Relay(const node::NodeTarget& edge,
                                          const v1::RelayRequest& request) override {
    Record({"Relay", edge, "", request.message()});
    if (!on_relay) return Unscripted("Relay");
    return on_relay(edge, request);
  }

  // Every call so far, in order.
  std::vector<Call> log() const {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  // The methods called so far, in order ("Lookup", "Deliver").
  std::vector<std::string> methods() const {
    std::vector<std::string> names;
    for (const Call& call : log()) names.push_back(call.method);
    return names;
  }

 private:
  static absl::Status Unscripted(const std::string& method) {
    return absl::UnimplementedError(method + ": not scripted");
  }
  void Record(Call call) {
    absl::MutexLock lock(&mu_);
    log_.push_back(std::move(call));
  }

  mutable absl::Mutex mu_;
  std::vector<Call> log_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::testing

#endif  // TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_NODE_CALLS_H_
