// Where TLS verification gets its trust anchors: the current TrustSnapshot,
// or, before the first snapshot arrives, the node's bootstrap bundle.
//
//   auto source = std::make_shared<tls::TrustSource>(holder, "contoso.test",
//                                                    bootstrap_roots);
//   std::shared_ptr<const trust::TrustSnapshot> snap = source->snapshot();
//   source->set_accepted_chain_observer([agent](const std::vector<pki::Certificate>& chain) {
//     agent->ReportAcceptedChain(chain);
//   });
#ifndef TRUSTFABRIC_COMMON_TLS_TRUST_SOURCE_H_
#define TRUSTFABRIC_COMMON_TLS_TRUST_SOURCE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/pki/certificate.h"
#include "common/pki/verify.h"
#include "common/time/clock.h"
#include "common/trust/holder.h"
#include "common/trust/snapshot.h"

namespace trustfabric::tls {

class TrustSource {
 public:
  // `holder` must outlive this object. `bootstrap` (may be null) anchors the
  // local domain's chains only while `holder` has no snapshot.
  TrustSource(trust::SnapshotHolder* holder, std::string local_domain,
              std::shared_ptr<const pki::RootStore> bootstrap, Clock clock = RealClock())
      : holder_(holder),
        local_domain_(std::move(local_domain)),
        bootstrap_(std::move(bootstrap)),
        clock_(std::move(clock)) {}

  // Null before the first snapshot.
  std::shared_ptr<const trust::TrustSnapshot> snapshot() const { return holder_->Get(); }
  const std::shared_ptr<const pki::RootStore>& bootstrap() const { return bootstrap_; }
  const std::string& local_domain() const { return local_domain_; }
  // Subscribing to changes is the reason this is not const.
  trust::SnapshotHolder* holder() const { return holder_; }
  absl::Time Now() const { return clock_(); }

  // An optional check run before every call on every listener that uses
  // this source (e.g. the trust agent's staleness policy: fail-closed
  // refuses calls once the state is too old). Set before serving.
  using ServingGate = std::function<absl::Status()>;
  void set_serving_gate(ServingGate gate) { gate_ = std::move(gate); }
  absl::Status CheckServing() const { return gate_ ? gate_() : absl::OkStatus(); }

  // An optional observer of accepted peer chains: called with the verified
  // chain (leaf first, anchor last) each time a peer's chain is verified
  // and accepted without a cached result -- server side by PeerVerifier,
  // client side by VerifyServer. It runs on the verifying thread (inside a
  // handshake or a call), so it must be quick and must not block; a node
  // uses it to report the certificates it accepted to its control plane
  // (docs/design.md §5). Set before serving.
  using AcceptedChainObserver = std::function<void(const std::vector<pki::Certificate>& chain)>;
  void set_accepted_chain_observer(AcceptedChainObserver observer) {
    accepted_chain_observer_ = std::move(observer);
  }
  void ObserveAcceptedChain(const std::vector<pki::Certificate>& chain) const {
    if (accepted_chain_observer_) accepted_chain_observer_(chain);
  }

 private:
  trust::SnapshotHolder* const holder_;
  const std::string local_domain_;
  const std::shared_ptr<const pki::RootStore> bootstrap_;
  const Clock clock_;
  ServingGate gate_;
  AcceptedChainObserver accepted_chain_observer_;
};

}  // namespace trustfabric::tls

#endif  // TRUSTFABRIC_COMMON_TLS_TRUST_SOURCE_H_
