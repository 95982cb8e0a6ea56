// Update log; see update_log.h.
#include "server/control/update_log.h"

#include <algorithm>
#include <utility>

namespace trustfabric::control {

UpdateLog::UpdateLog(Options options) : options_(options) {}

void UpdateLog::Reset(std::shared_ptr<const trust::TrustSnapshot> current,
                      std::vector<v1::TrustDelta> history) {
  absl::MutexLock lock(&mu_);
  current_ = std::move(current);
  history_.assign(std::make_move_iterator(history.begin()), std::make_move_iterator(history.end()));
  Trim();
  snapshot_update_.reset();
  delta_updates_.clear();
  snapshot_bytes_ = 0;
}

void UpdateLog::Publish(std::shared_ptr<const trust::TrustSnapshot> next, v1::TrustDelta delta) {
  absl::MutexLock notify(&notify_mu_);
  {
    absl::MutexLock lock(&mu_);
    // A node checks the features against itself and the content; they are
    // those of the snapshot the delta leads to.
    *delta.mutable_required_features() = next->proto().required_features();
    current_ = std::move(next);
    history_.push_back(std::move(delta));
    Trim();
    snapshot_update_.reset();
    delta_updates_.clear();
    snapshot_bytes_ = 0;
  }
  std::vector<std::function<void()>> listeners;
  {
    absl::MutexLock lock(&listeners_mu_);
    for (const auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  for (const auto& listener : listeners) listener();
}

void UpdateLog::Trim() {
  while (history_.size() > options_.history_revisions) history_.pop_front();
}

uint64_t UpdateLog::revision() const {
  absl::MutexLock lock(&mu_);
  return current_ == nullptr ? 0 : current_->revision();
}

std::shared_ptr<const trust::TrustSnapshot> UpdateLog::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

uint64_t UpdateLog::oldest_resumable() const {
  absl::MutexLock lock(&mu_);
  if (history_.empty()) return current_ == nullptr ? 0 : current_->revision();
  return history_.front().base_revision();
}

size_t UpdateLog::retained() const {
  absl::MutexLock lock(&mu_);
  return history_.size();
}

uint64_t UpdateLog::snapshot_serializations() const {
  absl::MutexLock lock(&mu_);
  return snapshot_serializations_;
}

size_t UpdateLog::SnapshotBytes() const {
  if (snapshot_bytes_ == 0) snapshot_bytes_ = current_->proto().ByteSizeLong();
  return snapshot_bytes_;
}

std::shared_ptr<const Update> UpdateLog::SnapshotUpdate() const {
  if (snapshot_update_ != nullptr) return snapshot_update_;
  ++snapshot_serializations_;
  const std::string bytes = current_->proto().SerializeAsString();
  const size_t chunk = std::max<size_t>(options_.chunk_bytes, 1);
  const size_t count = std::max<size_t>((bytes.size() + chunk - 1) / chunk, 1);
  auto update = std::make_shared<Update>();
  update->kind = Update::Kind::kSnapshot;
  update->revision = current_->revision();
  update->frames.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    v1::WatchResponse response;
    v1::SnapshotChunk* c = response.mutable_snapshot_chunk();
    c->set_revision(current_->revision());
    c->set_index(static_cast<uint32_t>(i));
    c->set_count(static_cast<uint32_t>(count));
    const size_t offset = i * chunk;
    if (offset < bytes.size()) c->set_data(bytes.substr(offset, chunk));
    update->frames.push_back(response.SerializeAsString());
    update->bytes += update->frames.back().size();
  }
  snapshot_update_ = std::move(update);
  return snapshot_update_;
}

std::shared_ptr<const Update> UpdateLog::UpdateFrom(uint64_t from) const {
  absl::MutexLock lock(&mu_);
  if (current_ == nullptr) return nullptr;
  const uint64_t revision = current_->revision();
  if (from == revision) return nullptr;
  const bool resumable =
      from != 0 && from < revision && !history_.empty() && from >= history_.front().base_revision();
  if (!resumable) return SnapshotUpdate();

  auto cached = delta_updates_.find(from);
  if (cached != delta_updates_.end()) return cached->second;

  v1::WatchResponse response;
  v1::TrustDelta* delta = response.mutable_delta();
  delta->set_base_revision(from);
  delta->set_revision(revision);
  *delta->mutable_created_at() = history_.back().created_at();
  *delta->mutable_required_features() = current_->proto().required_features();
  *delta->mutable_generation() = current_->proto().generation();
  for (const v1::TrustDelta& d : history_) {
    if (d.revision() <= from) continue;
    for (const v1::TrustChange& change : d.changes()) *delta->add_changes() = change;
  }
  const size_t size = response.ByteSizeLong();
  // A delta no smaller than the snapshot saves nothing, and one over the
  // chunk size could exceed a receiver's message limit.
  if (size > options_.chunk_bytes || size >= SnapshotBytes()) return SnapshotUpdate();

  auto update = std::make_shared<Update>();
  update->kind = Update::Kind::kDelta;
  update->base_revision = from;
  update->revision = revision;
  update->frames.push_back(response.SerializeAsString());
  update->bytes = update->frames.back().size();
  delta_updates_[from] = update;
  return update;
}

int UpdateLog::Subscribe(std::function<void()> listener) {
  absl::MutexLock lock(&listeners_mu_);
  const int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void UpdateLog::Unsubscribe(int id) {
  absl::MutexLock notify(&notify_mu_);
  absl::MutexLock lock(&listeners_mu_);
  listeners_.erase(id);
}

}  // namespace trustfabric::control
