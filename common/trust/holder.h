// SnapshotHolder: the process-wide current TrustSnapshot.
//
// Readers take a reference (Get) and keep using that revision for as long
// as they hold it; a writer builds and validates the next snapshot outside
// any lock, then Swaps it in. Subscribers hear about every accepted swap, in
// revision order, after the new snapshot is visible to Get.
//
//   trust::SnapshotHolder holder;
//   int id = holder.Subscribe([](const auto& snapshot) { Rebuild(*snapshot); });
//   TF_ASSIGN_OR_RETURN(auto next, trust::TrustSnapshot::Create(proto));
//   TF_RETURN_IF_ERROR(holder.Swap(std::move(next)));
//   std::shared_ptr<const trust::TrustSnapshot> current = holder.Get();
//   holder.Unsubscribe(id);
#ifndef TRUSTFABRIC_COMMON_TRUST_HOLDER_H_
#define TRUSTFABRIC_COMMON_TRUST_HOLDER_H_

#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/trust/snapshot.h"

namespace trustfabric::trust {

// Thread-safe; all methods may be called from any thread.
class SnapshotHolder {
 public:
  using Subscriber = std::function<void(const std::shared_ptr<const TrustSnapshot>&)>;

  SnapshotHolder() = default;
  SnapshotHolder(const SnapshotHolder&) = delete;
  SnapshotHolder& operator=(const SnapshotHolder&) = delete;

  // The current snapshot; null before the first successful Swap.
  std::shared_ptr<const TrustSnapshot> Get() const ABSL_LOCKS_EXCLUDED(mu_);

  // Makes `next` current, then calls every subscriber with it (outside the
  // state lock, so subscribers may call Get, Subscribe and Unsubscribe).
  // Changes nothing and returns:
  //   INVALID_ARGUMENT when `next` is null;
  //   FAILED_PRECONDITION when next is not newer: of a lower generation
  //     epoch, or of the same epoch with a revision not greater than the
  //     current one (0 when there is none); when its trust domain differs
  //     from the current snapshot's, or when called from a subscriber.
  absl::Status Swap(std::shared_ptr<const TrustSnapshot> next) ABSL_LOCKS_EXCLUDED(notify_mu_, mu_);

  // Registers `s` for later swaps (the current snapshot, if any, is not
  // replayed; call Get). Returns an id for Unsubscribe.
  int Subscribe(Subscriber s) ABSL_LOCKS_EXCLUDED(mu_);
  // After Unsubscribe returns the subscriber is not running and will not be
  // called again (when called from inside a notification, it will not be
  // called again).
  void Unsubscribe(int id) ABSL_LOCKS_EXCLUDED(notify_mu_, mu_);

 private:
  // Held for a whole swap-and-notify so notifications keep revision order.
  absl::Mutex notify_mu_ ABSL_ACQUIRED_BEFORE(mu_);

  mutable absl::Mutex mu_;
  std::shared_ptr<const TrustSnapshot> current_ ABSL_GUARDED_BY(mu_);
  std::map<int, std::shared_ptr<const Subscriber>> subscribers_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // The thread running subscribers, if any; used to refuse re-entrant swaps
  // and to let a subscriber unsubscribe without waiting for itself.
  std::thread::id notifying_thread_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::trust

#endif  // TRUSTFABRIC_COMMON_TRUST_HOLDER_H_
