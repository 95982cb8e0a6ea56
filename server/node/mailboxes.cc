// Mailboxes; see mailboxes.h.
#include "server/node/mailboxes.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace trustfabric::node {

Mailboxes::Mailboxes(size_t limit_per_user) : limit_(limit_per_user == 0 ? 1000 : limit_per_user) {}

absl::StatusOr<std::string> Mailboxes::Deliver(const v1::Message& message) {
  std::function<void()> wake;
  std::string disposition;
  {
    absl::MutexLock lock(&mu_);
    Box& box = boxes_[message.to()];
    if (box.queue.size() >= limit_) {
      return absl::ResourceExhaustedError(
          absl::StrCat("mailbox of ", message.to(), " is full (", limit_, " messages waiting)"));
    }
    box.queue.push_back(message);
    disposition = box.receiver != 0 ? "delivered" : "queued";
    wake = box.wake;
  }
  if (wake) wake();
  return disposition;
}

std::unique_ptr<Mailboxes::Receiver> Mailboxes::Attach(const std::string& user,
                                                       std::function<void()> wake) {
  std::function<void()> previous;
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    id = next_id_++;
    Box& box = boxes_[user];
    previous = std::move(box.wake);
    box.receiver = id;
    box.wake = std::move(wake);
  }
  if (previous) previous();  // lets the old stream notice it was superseded
  return std::unique_ptr<Receiver>(new Receiver(this, user, id));
}

Mailboxes::Receiver::~Receiver() {
  absl::MutexLock lock(&boxes_->mu_);
  auto it = boxes_->boxes_.find(user_);
  if (it != boxes_->boxes_.end() && it->second.receiver == id_) {
    it->second.receiver = 0;
    it->second.wake = nullptr;
  }
}

std::optional<v1::Message> Mailboxes::Receiver::Next() {
  absl::MutexLock lock(&boxes_->mu_);
  auto it = boxes_->boxes_.find(user_);
  if (it == boxes_->boxes_.end() || it->second.receiver != id_ || it->second.queue.empty()) {
    return std::nullopt;
  }
  v1::Message m = std::move(it->second.queue.front());
  it->second.queue.pop_front();
  return m;
}

void Mailboxes::Receiver::PutBack(v1::Message message) {
  absl::MutexLock lock(&boxes_->mu_);
  boxes_->boxes_[user_].queue.push_front(std::move(message));
}

bool Mailboxes::Receiver::superseded() const {
  absl::MutexLock lock(&boxes_->mu_);
  auto it = boxes_->boxes_.find(user_);
  return it == boxes_->boxes_.end() || it->second.receiver != id_;
}

size_t Mailboxes::queued(const std::string& user) const {
  absl::MutexLock lock(&mu_);
  auto it = boxes_.find(user);
  return it == boxes_.end() ? 0 : it->second.queue.size();
}

}  // namespace trustfabric::node
