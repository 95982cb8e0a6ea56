// NodeCalls for unit tests of the node rules: records every call (target
// and request) and answers from handlers the test sets, directly or through
// the Script* shorthands; a call with no handler fails with UNIMPLEMENTED
// naming the method. Also the verified peers those rules take as callers.
//
//   testing::ScriptedNodeCalls calls;
//   calls.ScriptRegistrar({"alice@contoso.test"}, "fe2.contoso.test", "127.0.0.22:7443");
//   calls.ScriptDeliver("queued");
//   node::EdgeRelay relay(&config, &holder, &calls);
//   ... EXPECT_THAT(calls.methods(), ElementsAre("Lookup", "Deliver"));
#ifndef TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_NODE_CALLS_H_
#define TRUSTFABRIC_TESTS_SERVER_NODE_SCRIPTED_NODE_CALLS_H_

#include <algorithm>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/tls/peer_verifier.h"
#include "server/node/node_calls.h"

namespace trustfabric::node {

// gtest prints targets in failure messages with this.
inline void PrintTo(const NodeTarget& t, std::ostream* os) {
  *os << pki::RoleName(t.role) << " " << t.server_name << " at " << t.address << " ("
      << t.trust_domain << ")";
}

}  // namespace trustfabric::node

namespace trustfabric::testing {

// A verified peer <name>.<domain> with SPIFFE ID spiffe://<domain>/<role>/<name>.
inline tls::PeerIdentity NodePeer(const std::string& domain, pki::Role role,
                                  const std::string& name) {
  tls::PeerIdentity peer;
  peer.spiffe_id = {domain, role, name};
  peer.dns_name = name + "." + domain;
  peer.dns_names = {peer.dns_name};
  return peer;
}

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

  // Every Register answers `status`.
  void ScriptRegister(absl::Status status) {
    on_register = [status](const node::NodeTarget&, const v1::RegisterRequest&) { return status; };
  }
  // Lookup finds each of `users` at `frontend` (`address`); any other user
  // is NOT_FOUND "user <user> is not registered".
  void ScriptRegistrar(std::vector<std::string> users, std::string frontend, std::string address) {
    on_lookup = [users = std::move(users), frontend = std::move(frontend),
                 address = std::move(address)](
                    const node::NodeTarget&,
                    const v1::LookupRequest& r) -> absl::StatusOr<v1::LookupResponse> {
      if (std::find(users.begin(), users.end(), r.user()) == users.end()) {
        return absl::NotFoundError("user " + r.user() + " is not registered");
      }
      v1::LookupResponse found;
      found.set_user(r.user());
      found.set_frontend(frontend);
      found.set_frontend_address(address);
      return found;
    };
  }
  // Every Deliver answers `disposition` (or its failure).
  void ScriptDeliver(absl::StatusOr<std::string> disposition) {
    on_deliver = [disposition](const node::NodeTarget&,
                               const v1::DeliverRequest&) -> absl::StatusOr<v1::DeliverResponse> {
      if (!disposition.ok()) return disposition.status();
      v1::DeliverResponse r;
      r.set_disposition(*disposition);
      return r;
    };
  }
  // Every Relay answers `disposition` accepted by `accepted_by` (or the
  // failure).
  void ScriptRelay(absl::StatusOr<std::string> disposition, std::string accepted_by = "") {
    on_relay = [disposition, accepted_by](
                   const node::NodeTarget&,
                   const v1::RelayRequest&) -> absl::StatusOr<v1::RelayResponse> {
      if (!disposition.ok()) return disposition.status();
      v1::RelayResponse r;
      r.set_disposition(*disposition);
      r.set_accepted_by(accepted_by);
      return r;
    };
  }

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
