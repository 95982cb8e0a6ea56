// A front-end's per-user message store: a bounded queue per user, a bound on
// the memory of all queued messages together, an age after which a queued
// message expires, and at most one active receiver per user (the user's
// Receive stream). gRPC-free.
//
// Offline users: a message for a user who is registered here but has no
// open Receive stream waits in the user's queue and is handed over, oldest
// first, when the user opens a stream. Delivery fails with
// RESOURCE_EXHAUSTED, and the sender is told, when
//   * the user's queue holds `per_user` messages: "mailbox of <user> is
//     full (<n> messages waiting)"; or
//   * the message would take the memory of every queued message together
//     past `total_bytes`: "mailboxes are full: queued messages would exceed
//     <n> bytes (max_queued_message_bytes)" - naming no user, since the
//     messages that fill the front-end are other users'.
// A message's memory is protobuf's SpaceUsedLong() of it (the object and
// its strings); a user's mailbox exists only while it holds a message or a
// stream, so mailboxes without messages cost nothing.
//
// Expiry: a message queued longer than `max_age` (by the injected clock) is
// dropped instead of delivered: lazily when its queue is read or delivered
// to, and by Sweep() for queues nobody reads (StartSweeping runs it
// periodically). Counted in expired().
//
//   node::MailboxLimits limits;  // 1000 per user, 64 MiB in all, 24 h
//   node::Mailboxes boxes(limits);
//   boxes.StartSweeping(absl::Minutes(1));
//   TF_ASSIGN_OR_RETURN(std::string disposition, boxes.Deliver(msg));  // "delivered"|"queued"
//   auto receiver = boxes.Attach("bob@fabrikam.test", [&] { stream->Wake(); });
//   std::optional<v1::Message> next = receiver->Next();
#ifndef TRUSTFABRIC_SERVER_NODE_MAILBOXES_H_
#define TRUSTFABRIC_SERVER_NODE_MAILBOXES_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

// NodeConfig.offline_queue_limit, frontend.max_queued_message_bytes and
// frontend.queued_message_max_age_seconds; 0 in a field means its default.
struct MailboxLimits {
  size_t per_user = 1000;
  size_t total_bytes = size_t{64} << 20;
  absl::Duration max_age = absl::Hours(24);
};

// What the mailboxes hold and refused, for metrics.
struct MailboxCounts {
  size_t queued_messages = 0;
  size_t queued_bytes = 0;
  // Deliveries refused because the user's queue was full / because of the
  // total bound.
  uint64_t refused_per_user = 0;
  uint64_t refused_total = 0;
  uint64_t expired = 0;
};

class Mailboxes {
 public:
  // A user's open stream. Pull messages with Next(); `wake` is called (from
  // the delivering thread, never under the mailbox lock) whenever a message
  // arrives. Destroying the Receiver detaches it.
  class Receiver {
   public:
    ~Receiver();
    // The oldest message that has not expired.
    std::optional<v1::Message> Next();
    // Returns the message last taken by Next(), which the stream could not
    // write, to the front of the queue (even past the limits: it was
    // accepted once already), keeping its age.
    void PutBack(v1::Message message);
    // True when a newer stream of the same user took over.
    bool superseded() const;

   private:
    friend class Mailboxes;
    Receiver(Mailboxes* boxes, std::string user, uint64_t id)
        : boxes_(boxes), user_(std::move(user)), id_(id) {}
    Mailboxes* boxes_;
    std::string user_;
    uint64_t id_;
    absl::Time last_queued_at_ = absl::InfinitePast();
  };

  // Zero fields of `limits` take MailboxLimits' defaults.
  explicit Mailboxes(MailboxLimits limits = {}, Clock clock = RealClock());
  ~Mailboxes();

  // "delivered" when the user has an open stream, "queued" otherwise;
  // RESOURCE_EXHAUSTED as the file comment says.
  absl::StatusOr<std::string> Deliver(const v1::Message& message);

  // Opens the user's stream; a previous stream of the same user is woken and
  // reports superseded(). REQUIRES: this Mailboxes outlives the Receiver.
  std::unique_ptr<Receiver> Attach(const std::string& user, std::function<void()> wake);

  // Drops every expired message; returns how many.
  size_t Sweep();
  // Runs Sweep every `interval` on a thread of its own until destruction.
  void StartSweeping(absl::Duration interval);

  size_t queued(const std::string& user) const;
  MailboxCounts counts() const;
  const MailboxLimits& limits() const { return limits_; }

 private:
  struct Queued {
    v1::Message message;
    size_t bytes;
    absl::Time queued_at;
  };
  struct Box {
    std::deque<Queued> queue;
    uint64_t receiver = 0;  // 0: none
    std::function<void()> wake;
  };
  using BoxMap = absl::flat_hash_map<std::string, Box>;

  // Drops the expired messages at the front of `box` (oldest first).
  void ExpireLocked(Box& box, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the front message of `box`, keeping the byte count in step.
  Queued PopLocked(Box& box) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Forgets `it` when it holds no message and no stream.
  void ForgetIfIdleLocked(BoxMap::iterator it) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const MailboxLimits limits_;
  const Clock clock_;

  mutable absl::Mutex mu_;
  BoxMap boxes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  size_t queued_messages_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_per_user_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t refused_total_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t expired_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::thread sweeper_;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_MAILBOXES_H_
