// Mailboxes; see mailboxes.h.
#include "server/node/mailboxes.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace trustfabric::node {
namespace {

MailboxLimits WithDefaults(MailboxLimits limits) {
  const MailboxLimits defaults;
  if (limits.per_user == 0) limits.per_user = defaults.per_user;
  if (limits.total_bytes == 0) limits.total_bytes = defaults.total_bytes;
  if (limits.max_age <= absl::ZeroDuration()) limits.max_age = defaults.max_age;
  return limits;
}

}  // namespace

Mailboxes::Mailboxes(MailboxLimits limits, Clock clock)
    : limits_(WithDefaults(limits)), clock_(clock ? std::move(clock) : RealClock()) {}

Mailboxes::~Mailboxes() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (sweeper_.joinable()) sweeper_.join();
}

void Mailboxes::StartSweeping(absl::Duration interval) {
  sweeper_ = std::thread([this, interval] {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval);
        if (stopping_) return;
      }
      Sweep();
    }
  });
}

void Mailboxes::ExpireLocked(Box& box, absl::Time now) {
  while (!box.queue.empty() && now - box.queue.front().queued_at >= limits_.max_age) {
    PopLocked(box);
    ++expired_;
  }
}

Mailboxes::Queued Mailboxes::PopLocked(Box& box) {
  Queued q = std::move(box.queue.front());
  box.queue.pop_front();
  --queued_messages_;
  queued_bytes_ -= q.bytes;
  return q;
}

void Mailboxes::ForgetIfIdleLocked(BoxMap::iterator it) {
  if (it->second.queue.empty() && it->second.receiver == 0) boxes_.erase(it);
}

absl::StatusOr<std::string> Mailboxes::Deliver(const v1::Message& message) {
  const size_t bytes = message.SpaceUsedLong();
  const absl::Time now = clock_();
  std::function<void()> wake;
  std::string disposition;
  {
    absl::MutexLock lock(&mu_);
    auto it = boxes_.find(message.to());
    if (it != boxes_.end()) ExpireLocked(it->second, now);
    if (it != boxes_.end() && it->second.queue.size() >= limits_.per_user) {
      ++refused_per_user_;
      return absl::ResourceExhaustedError(absl::StrCat(
          "mailbox of ", message.to(), " is full (", limits_.per_user, " messages waiting)"));
    }
    if (queued_bytes_ + bytes > limits_.total_bytes) {
      ++refused_total_;
      if (it != boxes_.end()) ForgetIfIdleLocked(it);
      return absl::ResourceExhaustedError(
          absl::StrCat("mailboxes are full: queued messages would exceed ", limits_.total_bytes,
                       " bytes (max_queued_message_bytes)"));
    }
    if (it == boxes_.end()) it = boxes_.try_emplace(message.to()).first;
    Box& box = it->second;
    box.queue.push_back(Queued{message, bytes, now});
    ++queued_messages_;
    queued_bytes_ += bytes;
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

size_t Mailboxes::Sweep() {
  const absl::Time now = clock_();
  absl::MutexLock lock(&mu_);
  const uint64_t before = expired_;
  for (auto it = boxes_.begin(); it != boxes_.end();) {
    ExpireLocked(it->second, now);
    // erase() of a flat_hash_map does not move other elements.
    auto next = std::next(it);
    ForgetIfIdleLocked(it);
    it = next;
  }
  return static_cast<size_t>(expired_ - before);
}

Mailboxes::Receiver::~Receiver() {
  absl::MutexLock lock(&boxes_->mu_);
  auto it = boxes_->boxes_.find(user_);
  if (it != boxes_->boxes_.end() && it->second.receiver == id_) {
    it->second.receiver = 0;
    it->second.wake = nullptr;
    boxes_->ForgetIfIdleLocked(it);
  }
}

std::optional<v1::Message> Mailboxes::Receiver::Next() {
  const absl::Time now = boxes_->clock_();
  absl::MutexLock lock(&boxes_->mu_);
  auto it = boxes_->boxes_.find(user_);
  if (it == boxes_->boxes_.end() || it->second.receiver != id_) return std::nullopt;
  boxes_->ExpireLocked(it->second, now);
  if (it->second.queue.empty()) return std::nullopt;
  Queued q = boxes_->PopLocked(it->second);
  last_queued_at_ = q.queued_at;
  return std::move(q.message);
}

void Mailboxes::Receiver::PutBack(v1::Message message) {
  const size_t bytes = message.SpaceUsedLong();
  const absl::Time queued_at =
      last_queued_at_ == absl::InfinitePast() ? boxes_->clock_() : last_queued_at_;
  absl::MutexLock lock(&boxes_->mu_);
  boxes_->boxes_[user_].queue.push_front(Queued{std::move(message), bytes, queued_at});
  ++boxes_->queued_messages_;
  boxes_->queued_bytes_ += bytes;
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

MailboxCounts Mailboxes::counts() const {
  absl::MutexLock lock(&mu_);
  return MailboxCounts{queued_messages_, queued_bytes_, refused_per_user_, refused_total_,
                       expired_};
}

}  // namespace trustfabric::node
