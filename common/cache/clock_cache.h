// A bounded map that evicts one entry at a time, by the CLOCK (second
// chance) rule: the verification caches of common/tls and common/token keep
// their results in it (docs/design.md §4, §7).
//
// Every entry carries a "used" bit, set by each Find. When the cache is full,
// an Insert advances a hand over the slots: a used entry loses its bit and is
// passed over, the first entry found without it is replaced. So an entry that
// is looked up between two turns of the hand stays, a full cache never drops
// more than the one entry it replaces, and eviction costs O(1) amortized
// without a list to reorder on every hit.
//
//   cache::ClockCache<Result> results(10000);
//   if (const Result* hit = results.Find(key)) return *hit;
//   results.Insert(key, Compute());
//
// Thread safety: Find only reads the map and sets an atomic bit, so Finds
// may run concurrently with each other (e.g. under a reader lock); Insert
// and Erase need exclusive access.
#ifndef TRUSTFABRIC_COMMON_CACHE_CLOCK_CACHE_H_
#define TRUSTFABRIC_COMMON_CACHE_CLOCK_CACHE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"

namespace trustfabric::cache {

template <typename V>
class ClockCache {
 public:
  // At most max(1, capacity) entries.
  explicit ClockCache(size_t capacity) : capacity_(std::max<size_t>(1, capacity)) {}
  ClockCache(const ClockCache&) = delete;
  ClockCache& operator=(const ClockCache&) = delete;

  // The value stored under `key` (valid until the next Insert or Erase), and
  // marks it used; null when absent.
  const V* Find(absl::string_view key) const {
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    const Slot& slot = slots_[it->second];
    slot.used.store(true, std::memory_order_relaxed);
    return &slot.value;
  }

  // Stores `value` under `key`, replacing what was there. When the cache is
  // full and `key` is new, exactly one other entry is evicted (the first the
  // hand finds unused since it last passed); returns whether one was.
  bool Insert(std::string key, V value) {
    auto it = index_.find(key);
    if (it != index_.end()) {
      Slot& slot = slots_[it->second];
      slot.value = std::move(value);
      slot.used.store(true, std::memory_order_relaxed);
      return false;
    }
    bool evicted = false;
    size_t at;
    if (!free_.empty()) {
      at = free_.back();
      free_.pop_back();
    } else if (slots_.size() < capacity_) {
      at = slots_.size();
      slots_.emplace_back();
    } else {
      at = Victim();
      index_.erase(slots_[at].key);
      ++evictions_;
      evicted = true;
    }
    Slot& slot = slots_[at];
    slot.key = std::move(key);
    slot.value = std::move(value);
    slot.live = true;
    // A new entry starts unused: it must be looked up again before the hand
    // comes round to survive, so one-off entries leave first.
    slot.used.store(false, std::memory_order_relaxed);
    index_.emplace(slot.key, at);
    return evicted;
  }

  // Removes `key`; false when it was absent.
  bool Erase(absl::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    const size_t at = it->second;
    index_.erase(it);
    Slot& slot = slots_[at];
    slot.key.clear();
    slot.value = V();
    slot.live = false;
    free_.push_back(at);
    return true;
  }

  size_t size() const { return index_.size(); }
  size_t capacity() const { return capacity_; }
  // Entries replaced because the cache was full (not counting Erase).
  uint64_t evictions() const { return evictions_; }

 private:
  struct Slot {
    std::string key;
    V value;
    bool live = false;
    mutable std::atomic<bool> used{false};
  };

  // The slot the hand stops at: the first live slot without its used bit,
  // clearing the bits it passes. Ends within two turns (the first clears
  // every bit). REQUIRES: every slot is live (no free slot, cache full).
  size_t Victim() {
    for (;;) {
      const size_t at = hand_;
      hand_ = (hand_ + 1) % slots_.size();
      if (!slots_[at].used.exchange(false, std::memory_order_relaxed)) return at;
    }
  }

  const size_t capacity_;
  // A deque keeps each slot in place as it grows (the atomic bit cannot
  // move).
  std::deque<Slot> slots_;
  absl::flat_hash_map<std::string, size_t> index_;
  std::vector<size_t> free_;
  size_t hand_ = 0;
  uint64_t evictions_ = 0;
};

}  // namespace trustfabric::cache

#endif  // TRUSTFABRIC_COMMON_CACHE_CLOCK_CACHE_H_
