#include "kv/block_table.h"

#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"

namespace quarrel::kv {
namespace {

std::vector<BlockId> ids(const BlockTable& t) { return {t.blocks().begin(), t.blocks().end()}; }

TEST(BlockTable, AppendAllocatesBlocksOnlyWhenTheLastIsFull) {
  BlockPool pool(8, 4);
  BlockTable t(4);
  EXPECT_EQ(t.blocks_needed(pool, 5), 2);
  auto c = t.append(pool, 5);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->empty());
  EXPECT_EQ(t.n_tokens(), 5);
  EXPECT_EQ(t.n_blocks(), 2);
  EXPECT_EQ(t.blocks_needed(pool, 3), 0);  // 3 free slots in block 2
  ASSERT_TRUE(t.append(pool, 3));
  EXPECT_EQ(t.n_blocks(), 2);
  EXPECT_EQ(t.blocks_needed(pool, 1), 1);
  ASSERT_TRUE(t.append(pool, 1));
  EXPECT_EQ(t.n_blocks(), 3);
  EXPECT_EQ(t.n_tokens(), 9);
  EXPECT_EQ(pool.n_used(), 3);
  ASSERT_TRUE(t.append(pool, 0));
  EXPECT_EQ(t.n_tokens(), 9);
}

TEST(BlockTable, SlotsAndSlotMapping) {
  BlockPool pool(8, 4);
  BlockTable other(4), t(4);
  ASSERT_TRUE(other.append(pool, 4));  // takes block 0, so t starts at block 1
  ASSERT_TRUE(t.append(pool, 10));     // blocks 1, 2, 3
  EXPECT_EQ(ids(t), (std::vector<BlockId>{1, 2, 3}));
  EXPECT_EQ(t.slot(0), (Slot{1, 0}));
  EXPECT_EQ(t.slot(5), (Slot{2, 1}));
  EXPECT_EQ(t.slot(9), (Slot{3, 1}));
  EXPECT_EQ(t.flat_slot(0), 4);
  EXPECT_EQ(t.flat_slot(9), 13);
  std::vector<int32_t> m(5);
  t.slot_mapping(2, 5, m.data());
  EXPECT_EQ(m, (std::vector<int32_t>{6, 7, 8, 9, 10}));
  EXPECT_THROW(t.slot(10), Error);
  EXPECT_THROW(t.slot(-1), Error);
  EXPECT_THROW(t.slot_mapping(8, 3, m.data()), Error);
}

TEST(BlockTable, AppendIsAllOrNothing) {
  BlockPool pool(3, 4);
  BlockTable t(4);
  ASSERT_TRUE(t.append(pool, 6));  // 2 blocks
  EXPECT_EQ(t.blocks_needed(pool, 7), 2);
  EXPECT_FALSE(t.append(pool, 7).has_value());  // needs 2, 1 available
  EXPECT_EQ(t.n_tokens(), 6);
  EXPECT_EQ(t.n_blocks(), 2);
  EXPECT_EQ(pool.n_free(), 1);
  ASSERT_TRUE(t.append(pool, 6));  // exactly fills 3 blocks
  EXPECT_EQ(pool.n_free(), 0);
}

TEST(BlockTable, ForkSharesEveryBlockAndCopiesASharedPartialBlockOnWrite) {
  BlockPool pool(8, 4);
  BlockTable a(4);
  ASSERT_TRUE(a.append(pool, 6));  // blocks 0 (full), 1 (2 of 4)
  BlockTable b = a.fork(pool);
  EXPECT_EQ(ids(b), ids(a));
  EXPECT_EQ(pool.refcount(0), 2);
  EXPECT_EQ(pool.refcount(1), 2);
  EXPECT_EQ(b.n_tokens(), 6);

  EXPECT_EQ(b.blocks_needed(pool, 1), 1);  // the copy
  auto copies = b.append(pool, 1);
  ASSERT_TRUE(copies.has_value());
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ((*copies)[0].src, 1);
  const BlockId dst = (*copies)[0].dst;
  EXPECT_EQ(ids(b), (std::vector<BlockId>{0, dst}));
  EXPECT_EQ(pool.refcount(1), 1);
  EXPECT_EQ(pool.refcount(dst), 1);
  EXPECT_EQ(pool.refcount(0), 2);  // the full block stays shared

  // a is now the only owner of block 1: it writes in place.
  auto none = a.append(pool, 2);
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(ids(a), (std::vector<BlockId>{0, 1}));
}

TEST(BlockTable, SharedFullLastBlockNeedsNoCopy) {
  BlockPool pool(8, 4);
  BlockTable a(4);
  ASSERT_TRUE(a.append(pool, 8));
  BlockTable b = a.fork(pool);
  EXPECT_EQ(b.blocks_needed(pool, 1), 1);
  auto copies = b.append(pool, 1);
  ASSERT_TRUE(copies.has_value());
  EXPECT_TRUE(copies->empty());
  EXPECT_EQ(b.n_blocks(), 3);
  EXPECT_EQ(b.blocks()[0], a.blocks()[0]);
  EXPECT_EQ(b.blocks()[1], a.blocks()[1]);
}

TEST(BlockTable, CopyOnWriteFailsCleanlyWhenThePoolIsEmpty) {
  BlockPool pool(2, 4);
  BlockTable a(4);
  ASSERT_TRUE(a.append(pool, 2));
  BlockTable b = a.fork(pool);
  BlockTable c(4);
  ASSERT_TRUE(c.append(pool, 1));  // last free block
  EXPECT_FALSE(b.append(pool, 1).has_value());
  EXPECT_EQ(pool.refcount(a.blocks()[0]), 2);
  EXPECT_EQ(b.n_tokens(), 2);
}

TEST(BlockTable, ReleaseReturnsEveryBlock) {
  BlockPool pool(8, 4);
  BlockTable a(4);
  ASSERT_TRUE(a.append(pool, 13));
  BlockTable b = a.fork(pool);
  a.release(pool);
  EXPECT_EQ(a.n_tokens(), 0);
  EXPECT_EQ(a.n_blocks(), 0);
  EXPECT_EQ(pool.n_used(), 4);  // b still holds them
  b.release(pool);
  EXPECT_EQ(pool.n_used(), 0);
  EXPECT_EQ(pool.n_free(), 8);
}

TEST(BlockTable, ReleaseUnrefsTailFirstSoTheLruEvictsTailsFirst) {
  BlockPool pool(4, 2);
  BlockTable a(2);
  ASSERT_TRUE(a.append(pool, 6));
  for (BlockId id : a.blocks()) pool.set_cached(id, true);
  const std::vector<BlockId> blocks = ids(a);
  a.release(pool);
  EXPECT_EQ(pool.lru_order(), (std::vector<BlockId>{blocks[2], blocks[1], blocks[0]}));
}

}  // namespace
}  // namespace quarrel::kv
