// Rate limit on probing for user names: how many "no such recipient"
// answers one caller gets before its Sends are refused for a while.
//
// A token bucket per caller (on the client listener: the authenticated
// user). Each NOT_FOUND answer takes one token; tokens come back at one per
// `refill`, up to `burst`. While a caller's bucket holds less than one
// token, Check refuses every Send of that caller, to known recipients too
// (otherwise the refusal itself would tell known from unknown names). The
// table is bounded: a caller whose bucket is full again is forgotten, and
// beyond `max_callers` the least recently charged caller is evicted (it
// restarts with a full bucket). gRPC-free.
//
//   node::UnknownRecipientLimiter limiter({});
//   TF_RETURN_IF_ERROR(limiter.Check("alice@contoso.test"));
//   ... route; on NOT_FOUND:
//   limiter.RecordUnknown("alice@contoso.test");
#ifndef TRUSTFABRIC_SERVER_NODE_RECIPIENT_LIMITER_H_
#define TRUSTFABRIC_SERVER_NODE_RECIPIENT_LIMITER_H_

#include <cstddef>
#include <functional>
#include <list>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/time/clock.h"

namespace trustfabric::node {

class UnknownRecipientLimiter {
 public:
  struct Options {
    // NOT_FOUND answers in a row before Sends are refused; at least 1.
    size_t burst = 10;
    // Time for one answer to come back; positive.
    absl::Duration refill = absl::Seconds(30);
    // Callers tracked at once; at least 1.
    size_t max_callers = 10000;
    // Time source; null means absl::Now.
    Clock clock;
  };

  // Out-of-range options are raised to their minimum.
  explicit UnknownRecipientLimiter(Options options);

  // OK, or RESOURCE_EXHAUSTED "too many unknown recipients; retry after Ns"
  // (N: whole seconds until one answer has come back, at least 1) while
  // `caller`'s bucket is empty. Thread-safe.
  absl::Status Check(absl::string_view caller);
  // Charges one NOT_FOUND answer to `caller`. Thread-safe.
  void RecordUnknown(absl::string_view caller);

  // Callers currently tracked.
  size_t tracked() const;

 private:
  // The bucket in exact time arithmetic (GCRA): `full_at` is when the
  // caller's allowance is whole again; each answer moves it `refill` later.
  // At `now` the caller holds burst - (full_at - now) / refill answers, so
  // a Send is allowed while full_at - now <= (burst - 1) * refill.
  struct Bucket {
    std::string caller;
    absl::Time full_at;
  };
  using Order = std::list<Bucket>;

  absl::Time Now() const;

  const Options options_;
  mutable absl::Mutex mu_;
  // Least recently charged first.
  Order order_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, Order::iterator> by_caller_ ABSL_GUARDED_BY(mu_);
};

}  // namespace trustfabric::node

#endif  // TRUSTFABRIC_SERVER_NODE_RECIPIENT_LIMITER_H_
