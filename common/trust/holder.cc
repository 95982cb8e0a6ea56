// SnapshotHolder; see holder.h.
#include "common/trust/holder.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace trustfabric::trust {

std::shared_ptr<const TrustSnapshot> SnapshotHolder::Get() const {
  absl::ReaderMutexLock lock(&mu_);
  return current_;
}

absl::Status SnapshotHolder::Swap(std::shared_ptr<const TrustSnapshot> next) {
  if (next == nullptr) return absl::InvalidArgumentError("snapshot: null");
  {
    // Checked before taking notify_mu_, which this thread already holds when
    // it is inside a notification.
    absl::ReaderMutexLock lock(&mu_);
    if (notifying_thread_ == std::this_thread::get_id()) {
      return absl::FailedPreconditionError(
          "snapshot swap from inside a snapshot subscriber is not allowed");
    }
  }
  absl::MutexLock notify_lock(&notify_mu_);
  std::vector<std::pair<int, std::shared_ptr<const Subscriber>>> subscribers;
  {
    absl::MutexLock lock(&mu_);
    uint64_t current_revision = current_ == nullptr ? 0 : current_->revision();
    // Revisions are ordered within a store generation; a higher epoch is
    // newer whatever its revision (docs/design.md §5).
    const uint64_t current_epoch =
        current_ == nullptr ? 0 : current_->proto().generation().epoch();
    const uint64_t next_epoch = next->proto().generation().epoch();
    if (next_epoch < current_epoch ||
        (next_epoch == current_epoch && next->revision() <= current_revision)) {
      return absl::FailedPreconditionError(absl::StrCat("snapshot revision ", next->revision(),
                                                        " is not newer than the current revision ",
                                                        current_revision));
    }
    if (current_ != nullptr && next->trust_domain() != current_->trust_domain()) {
      return absl::FailedPreconditionError(
          absl::StrCat("snapshot trust domain ", next->trust_domain(),
                       " differs from the current trust domain ", current_->trust_domain()));
    }
    current_ = next;
    subscribers.assign(subscribers_.begin(), subscribers_.end());
    notifying_thread_ = std::this_thread::get_id();
  }
  for (const auto& [id, subscriber] : subscribers) {
    {
      // A subscriber may have unsubscribed another one earlier in this loop.
      absl::ReaderMutexLock lock(&mu_);
      if (subscribers_.count(id) == 0) continue;
    }
    (*subscriber)(next);
  }
  absl::MutexLock lock(&mu_);
  notifying_thread_ = std::thread::id();
  return absl::OkStatus();
}

int SnapshotHolder::Subscribe(Subscriber s) {
  auto subscriber = std::make_shared<const Subscriber>(std::move(s));
  absl::MutexLock lock(&mu_);
  int id = next_id_++;
  subscribers_.emplace(id, std::move(subscriber));
  return id;
}

void SnapshotHolder::Unsubscribe(int id) {
  bool inside_notification;
  {
    absl::MutexLock lock(&mu_);
    subscribers_.erase(id);
    inside_notification = notifying_thread_ == std::this_thread::get_id();
  }
  // Waiting for the notify lock waits out a notification in progress, which
  // may still be calling the subscriber just removed.
  if (!inside_notification) {
    absl::MutexLock notify_lock(&notify_mu_);
  }
}

}  // namespace trustfabric::trust
