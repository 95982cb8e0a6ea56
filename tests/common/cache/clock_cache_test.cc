#include "common/cache/clock_cache.h"

#include <initializer_list>
#include <string>

#include "gtest/gtest.h"

namespace trustfabric::cache {
namespace {

std::string Key(int i) { return "k" + std::to_string(i); }

// Whether each of `keys` is cached, as a string of '+' (present) and '-'.
std::string Present(const ClockCache<int>& cache, std::initializer_list<const char*> keys) {
  std::string out;
  for (const char* k : keys) out += cache.Find(k) != nullptr ? '+' : '-';
  return out;
}

TEST(ClockCache, FindsWhatWasInsertedAndReplacesInPlace) {
  ClockCache<int> cache(4);
  EXPECT_EQ(cache.Find("a"), nullptr);
  EXPECT_FALSE(cache.Insert("a", 1));
  ASSERT_NE(cache.Find("a"), nullptr);
  EXPECT_EQ(*cache.Find("a"), 1);
  EXPECT_FALSE(cache.Insert("a", 2));
  EXPECT_EQ(*cache.Find("a"), 2);
  EXPECT_EQ(cache.size(), 1u);
}

TEST(ClockCache, AFullCacheEvictsOneEntryAtATime) {
  ClockCache<int> cache(100);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(cache.Insert(Key(i), i));
  EXPECT_EQ(cache.size(), 100u);
  EXPECT_TRUE(cache.Insert("new", 1000));
  EXPECT_EQ(cache.size(), 100u);
  EXPECT_EQ(cache.evictions(), 1u);
  int present = 0;
  for (int i = 0; i < 100; ++i) present += cache.Find(Key(i)) != nullptr;
  EXPECT_EQ(present, 99);
  EXPECT_NE(cache.Find("new"), nullptr);
}

TEST(ClockCache, EvictionOrderIsOldestUnusedFirst) {
  ClockCache<int> cache(3);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  cache.Insert("c", 3);
  // None was looked up: the hand takes them in insertion order.
  cache.Insert("d", 4);
  cache.Insert("e", 5);
  EXPECT_EQ(Present(cache, {"a", "b", "c", "d", "e"}), "--+++");
}

TEST(ClockCache, AnEntryUsedSinceTheHandPassedGetsASecondChance) {
  ClockCache<int> cache(3);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  cache.Insert("c", 3);
  ASSERT_NE(cache.Find("a"), nullptr);  // a is used: b goes instead
  cache.Insert("d", 4);
  EXPECT_EQ(Present(cache, {"a", "b", "c", "d"}), "+-++");
}

TEST(ClockCache, AnEntryLookedUpBetweenTurnsSurvivesAStreamOfOneOffEntries) {
  ClockCache<int> cache(64);
  cache.Insert("hot", 1);
  for (int i = 0; i < 10000; ++i) {
    ASSERT_NE(cache.Find("hot"), nullptr) << "after " << i << " one-off entries";
    cache.Insert(Key(i), i);
  }
  EXPECT_EQ(cache.size(), 64u);
  EXPECT_EQ(cache.evictions(), 10000u - 63u);
}

TEST(ClockCache, EraseFreesASlotWithoutEvicting) {
  ClockCache<int> cache(2);
  cache.Insert("a", 1);
  cache.Insert("b", 2);
  EXPECT_TRUE(cache.Erase("a"));
  EXPECT_FALSE(cache.Erase("a"));
  EXPECT_FALSE(cache.Insert("c", 3));
  EXPECT_EQ(cache.evictions(), 0u);
  EXPECT_NE(cache.Find("b"), nullptr);
  EXPECT_NE(cache.Find("c"), nullptr);
  EXPECT_EQ(cache.size(), 2u);
}

TEST(ClockCache, CapacityIsAtLeastOne) {
  ClockCache<int> cache(0);
  EXPECT_EQ(cache.capacity(), 1u);
  cache.Insert("a", 1);
  EXPECT_TRUE(cache.Insert("b", 2));
  EXPECT_EQ(cache.Find("a"), nullptr);
  EXPECT_EQ(*cache.Find("b"), 2);
}

}  // namespace
}  // namespace trustfabric::cache
