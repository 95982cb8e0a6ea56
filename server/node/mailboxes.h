// A front-end's per-user message store: a bounded queue per user and at most
// one active receiver (the user's Receive stream). gRPC-free.
//
// Offline users: a message for a user who is registered here but has no
// open Receive stream waits in the user's queue (at most `limit` messages;
// beyond that delivery fails with RESOURCE_EXHAUSTED and the sender is told)
// and is handed over, oldest first, when the user opens a stream.
//
//   node::Mailboxes boxes(1000);
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

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "trustfabric/v1/node.pb.h"

namespace trustfabric::node {

class Mailboxes {
 public:
  // A user's open stream. Pull messages with Next(); `wake` is called (from
  // the delivering thread, never under the mailbox lock) whenever a message
  // arrives. Destroying the Receiver detaches it.
  class Receiver {
   public:
    ~Receiver();
    std::optional<v1::Message> Next();
    // Returns a message the stream could not write to the front of the queue
    // (even past the limit: it was accepted once already).
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
  };

  explicit Mailboxes(size_t limit_per_user);

  // "delivered" when the user has an open stream, "queued" otherwise;
  // RESOURCE_EXHAUSTED when the user's queue is full.
  absl::StatusOr<std::string> Deliver(const v1::Message& message);

  // Opens the user's stream; a previous stream of the same user is woken and
  // reports superseded(). REQUIRES: this Mailboxes outlives the Receiver.
  std::unique_ptr<Receiver> Attach(const std::string& user, std::function<void()> wake);

  size_t queued(const std::string& user) const;

 private:
  struct Box {
    std::deque<v1::Message> queue;
    uint64_t receiver = 0;  // 0: none
    std::function<void()> wake;
  };

  const size_t limit_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Box> boxes_ ABSL_GUARDED_BY(mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_MAILBOXES_H_
