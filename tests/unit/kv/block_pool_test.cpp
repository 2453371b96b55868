#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "core/error.h"

namespace quarrel::kv {
namespace {

TEST(BlockPool, AllocatesEveryBlockOnceThenRunsOut) {
  BlockPool pool(4, 16);
  EXPECT_EQ(pool.block_size(), 16);
  EXPECT_EQ(pool.n_total(), 4);
  std::set<BlockId> got;
  for (int i = 0; i < 4; ++i) {
    auto id = pool.allocate();
    ASSERT_TRUE(id.has_value());
    EXPECT_EQ(pool.refcount(*id), 1);
    got.insert(*id);
    EXPECT_EQ(pool.n_used(), i + 1);
    EXPECT_EQ(pool.n_free(), 3 - i);
  }
  EXPECT_EQ(got, (std::set<BlockId>{0, 1, 2, 3}));
  EXPECT_FALSE(pool.allocate().has_value());
  EXPECT_EQ(pool.n_available(), 0);
}

TEST(BlockPool, FirstAllocationsTakeLowIds) {
  BlockPool pool(3, 4);
  EXPECT_EQ(*pool.allocate(), 0);
  EXPECT_EQ(*pool.allocate(), 1);
  EXPECT_EQ(*pool.allocate(), 2);
}

TEST(BlockPool, RefcountsAndFreeing) {
  BlockPool pool(2, 4);
  const BlockId a = *pool.allocate();
  pool.ref(a);
  pool.ref(a);
  EXPECT_EQ(pool.refcount(a), 3);
  EXPECT_EQ(pool.unref(a), 2);
  EXPECT_EQ(pool.unref(a), 1);
  EXPECT_EQ(pool.n_used(), 1);
  EXPECT_EQ(pool.unref(a), 0);
  EXPECT_EQ(pool.n_used(), 0);
  EXPECT_EQ(pool.n_free(), 2);
  EXPECT_EQ(pool.n_cached(), 0);
}

TEST(BlockPool, MisuseIsAnInternalError) {
  BlockPool pool(2, 4);
  EXPECT_THROW(pool.unref(0), Error);     // free block
  EXPECT_THROW(pool.ref(1), Error);       // free block gains an owner without allocate()
  EXPECT_THROW(pool.refcount(2), Error);  // out of range
  EXPECT_THROW(pool.refcount(-1), Error);
  EXPECT_THROW(pool.set_cached(0, true), Error);  // only used blocks
  EXPECT_THROW(BlockPool(-1, 4), Error);
  EXPECT_THROW(BlockPool(4, 0), Error);
}

TEST(BlockPool, EmptyPool) {
  BlockPool pool(0, 16);
  EXPECT_EQ(pool.n_total(), 0);
  EXPECT_FALSE(pool.allocate().has_value());
}

TEST(BlockPool, CachedBlockGoesIdleAndIsRevivedWithItsId) {
  BlockPool pool(2, 4);
  const BlockId a = *pool.allocate();
  pool.set_cached(a, true);
  EXPECT_TRUE(pool.is_cached(a));
  EXPECT_FALSE(pool.is_idle(a));
  EXPECT_EQ(pool.unref(a), 0);
  EXPECT_TRUE(pool.is_idle(a));
  EXPECT_EQ(pool.n_cached(), 1);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.n_used(), 0);
  EXPECT_EQ(pool.n_available(), 2);
  EXPECT_EQ(pool.lru_order(), std::vector<BlockId>{a});
  pool.ref(a);  // revive
  EXPECT_EQ(pool.refcount(a), 1);
  EXPECT_FALSE(pool.is_idle(a));
  EXPECT_TRUE(pool.is_cached(a));
  EXPECT_EQ(pool.n_cached(), 0);
  EXPECT_TRUE(pool.lru_order().empty());
}

TEST(BlockPool, AllocationEvictsLeastRecentlyUsedIdleBlockOnlyWhenNoneIsFree) {
  BlockPool pool(3, 4);
  std::vector<BlockId> evicted;
  pool.set_evict_listener([&](BlockId id) {
    EXPECT_TRUE(pool.is_idle(id));  // told before the block changes state
    evicted.push_back(id);
  });
  const BlockId a = *pool.allocate(), b = *pool.allocate(), c = *pool.allocate();
  for (BlockId id : {a, b, c}) pool.set_cached(id, true);
  pool.unref(b);  // idle order: b, then c, then a
  pool.unref(c);
  pool.unref(a);
  EXPECT_EQ(pool.lru_order(), (std::vector<BlockId>{b, c, a}));
  pool.ref(c);  // c leaves the list; order b, a
  pool.unref(c);  // back at the most recent end: b, a, c
  EXPECT_EQ(pool.lru_order(), (std::vector<BlockId>{b, a, c}));
  EXPECT_EQ(pool.n_free(), 0);
  EXPECT_EQ(*pool.allocate(), b);
  EXPECT_EQ(evicted, std::vector<BlockId>{b});
  EXPECT_FALSE(pool.is_cached(b));
  EXPECT_EQ(*pool.allocate(), a);
  EXPECT_EQ(*pool.allocate(), c);
  EXPECT_EQ(evicted, (std::vector<BlockId>{b, a, c}));
  EXPECT_FALSE(pool.allocate().has_value());
  EXPECT_EQ(pool.n_used(), 3);
}

TEST(BlockPool, UncachingAUsedBlockFreesItNormally) {
  BlockPool pool(1, 4);
  const BlockId a = *pool.allocate();
  pool.set_cached(a, true);
  pool.set_cached(a, false);
  pool.unref(a);
  EXPECT_EQ(pool.n_free(), 1);
  EXPECT_EQ(pool.n_cached(), 0);
}

TEST(BlockPool, EvictIdle) {
  BlockPool pool(4, 4);
  int heard = 0;
  pool.set_evict_listener([&](BlockId) { ++heard; });
  std::vector<BlockId> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(*pool.allocate());
  for (BlockId id : ids) {
    pool.set_cached(id, true);
    pool.unref(id);
  }
  EXPECT_EQ(pool.evict_idle(2), 2);
  EXPECT_EQ(pool.n_cached(), 1);
  EXPECT_EQ(pool.lru_order(), std::vector<BlockId>{ids[2]});
  EXPECT_EQ(pool.evict_idle(10), 1);
  EXPECT_EQ(heard, 3);
  EXPECT_EQ(pool.n_free(), 4);
}

}  // namespace
}  // namespace quarrel::kv
