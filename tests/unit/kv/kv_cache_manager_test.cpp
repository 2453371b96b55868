#include "kv/kv_cache_manager.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"

namespace quarrel::kv {
namespace {

std::vector<TokenId> seq_tokens(int n, TokenId first = 100) {
  std::vector<TokenId> t(n);
  std::iota(t.begin(), t.end(), first);
  return t;
}

std::vector<BlockId> table(const KvCacheManager& kv, SeqId s) {
  auto b = kv.block_table(s);
  return {b.begin(), b.end()};
}

TEST(KvCacheManager, AdmitWithNothingCached) {
  KvCacheManager kv(10, 16);
  const auto prompt = seq_tokens(40);
  const PrefixMatch m = kv.match_prefix(prompt);
  EXPECT_EQ(m.cached_tokens, 0);
  EXPECT_EQ(m.blocks_needed, 3);
  EXPECT_TRUE(m.fits);
  auto cached = kv.admit(1, prompt);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(*cached, 0);
  EXPECT_EQ(kv.n_tokens(1), 40);
  EXPECT_EQ(kv.n_computed(1), 0);
  EXPECT_EQ(kv.block_table(1).size(), 3u);
  EXPECT_EQ(kv.stats().blocks_used, 3);
  EXPECT_EQ(kv.stats().sequences, 1);
  kv.check_invariants();
}

TEST(KvCacheManager, SlotMappingFollowsTheBlockTable) {
  KvCacheManager kv(10, 4);
  ASSERT_TRUE(kv.admit(7, seq_tokens(6)));
  const auto b = table(kv, 7);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(kv.slot_mapping(7, 0, 6),
            (std::vector<int32_t>{b[0] * 4, b[0] * 4 + 1, b[0] * 4 + 2, b[0] * 4 + 3, b[1] * 4, b[1] * 4 + 1}));
  EXPECT_EQ(kv.slot_mapping(7, 5, 1), (std::vector<int32_t>{b[1] * 4 + 1}));
  EXPECT_TRUE(kv.slot_mapping(7, 6, 0).empty());
  EXPECT_THROW(kv.slot_mapping(7, 5, 2), Error);
}

TEST(KvCacheManager, PrefixIsReusedOnlyAfterCommit) {
  KvCacheManager kv(20, 16);
  const auto prompt = seq_tokens(40);
  ASSERT_EQ(kv.admit(1, prompt), 0);
  // Not computed yet: another sequence must not reuse these blocks.
  EXPECT_EQ(kv.match_prefix(prompt).cached_tokens, 0);
  kv.commit(1);
  EXPECT_EQ(kv.match_prefix(prompt).cached_tokens, 32);
  auto cached = kv.admit(2, prompt);
  ASSERT_TRUE(cached.has_value());
  EXPECT_EQ(*cached, 32);
  EXPECT_EQ(kv.n_computed(2), 32);
  const auto b1 = table(kv, 1), b2 = table(kv, 2);
  EXPECT_EQ(b2[0], b1[0]);
  EXPECT_EQ(b2[1], b1[1]);
  EXPECT_NE(b2[2], b1[2]);  // the partial block is never shared through the cache
  EXPECT_EQ(kv.pool().refcount(b1[0]), 2);
  EXPECT_EQ(kv.stats().prefix_query_tokens, 80);
  EXPECT_EQ(kv.stats().prefix_hit_tokens, 32);
  kv.check_invariants();
}

TEST(KvCacheManager, PartialCommitRegistersOnlyComputedFullBlocks) {
  KvCacheManager kv(20, 4);
  const auto prompt = seq_tokens(13);
  ASSERT_EQ(kv.admit(1, prompt), 0);
  kv.commit(1, 5);  // block 0 computed, block 1 only partly
  EXPECT_EQ(kv.match_prefix(prompt).cached_tokens, 4);
  kv.commit(1, 12);
  EXPECT_EQ(kv.match_prefix(prompt).cached_tokens, 12);
  EXPECT_THROW(kv.commit(1, 11), Error);  // not monotone
  EXPECT_THROW(kv.commit(1, 14), Error);  // beyond the reserved tokens
  kv.check_invariants();
}

TEST(KvCacheManager, TheLastPromptTokenIsAlwaysComputed) {
  KvCacheManager kv(20, 4);
  const auto prompt = seq_tokens(12);  // exactly 3 blocks
  ASSERT_EQ(kv.admit(1, prompt), 0);
  kv.commit(1);
  // A full hit would leave nothing to compute, so the last block is recomputed.
  EXPECT_EQ(kv.admit(2, prompt), 8);
  EXPECT_EQ(kv.admit(3, std::vector<TokenId>(prompt.begin(), prompt.begin() + 9)), 8);
  EXPECT_EQ(kv.admit(4, std::vector<TokenId>(prompt.begin(), prompt.begin() + 8)), 4);
  EXPECT_EQ(kv.admit(5, std::vector<TokenId>{}), 0);
  EXPECT_EQ(kv.n_tokens(5), 0);
  kv.check_invariants();
}

TEST(KvCacheManager, DivergingPromptsShareOnlyTheCommonBlocks) {
  KvCacheManager kv(20, 4);
  auto a = seq_tokens(16);
  ASSERT_EQ(kv.admit(1, a), 0);
  kv.commit(1);
  auto b = a;
  b[9] = 7;  // differs inside block 2
  EXPECT_EQ(kv.admit(2, b), 8);
  auto c = a;
  c[0] = 7;  // differs in block 0: every later block has another parent
  EXPECT_EQ(kv.admit(3, c), 0);
  kv.check_invariants();
}

TEST(KvCacheManager, SameBlockTokensUnderAnotherPrefixAreNotReused) {
  KvCacheManager kv(20, 2);
  ASSERT_EQ(kv.admit(1, std::vector<TokenId>{1, 2, 3, 4, 9}), 0);
  kv.commit(1);
  // Block {3, 4} exists, but after {5, 6}, not after {1, 2}.
  EXPECT_EQ(kv.admit(2, std::vector<TokenId>{5, 6, 3, 4, 9}), 0);
  EXPECT_EQ(kv.admit(3, std::vector<TokenId>{1, 2, 3, 4, 9}), 4);
}

TEST(KvCacheManager, GeneratedTokensAreCachedToo) {
  KvCacheManager kv(20, 4);
  ASSERT_EQ(kv.admit(1, seq_tokens(3)), 0);
  kv.commit(1);
  for (TokenId t : {103, 104, 105, 106, 107}) {
    auto copies = kv.reserve(1, std::vector<TokenId>{t});
    ASSERT_TRUE(copies.has_value());
    EXPECT_TRUE(copies->empty());
    kv.commit(1);
  }
  EXPECT_EQ(kv.n_tokens(1), 8);
  kv.release(1);
  // A follow-up turn whose prompt starts with the whole first conversation.
  EXPECT_EQ(kv.admit(2, seq_tokens(10)), 8);
  kv.check_invariants();
}

TEST(KvCacheManager, ReleasedBlocksStayCachedUntilEvicted) {
  KvCacheManager kv(4, 4);
  const auto p = seq_tokens(9);  // 3 blocks, 2 full
  ASSERT_EQ(kv.admit(1, p), 0);
  kv.commit(1);
  kv.release(1);
  KvCacheStats st = kv.stats();
  EXPECT_EQ(st.blocks_used, 0);
  EXPECT_EQ(st.blocks_cached, 2);
  EXPECT_EQ(st.blocks_free, 2);
  // Reuse revives both cached blocks and takes one more.
  const PrefixMatch m = kv.match_prefix(p);
  EXPECT_EQ(m.cached_tokens, 8);
  EXPECT_EQ(m.blocks_needed, 3);
  EXPECT_TRUE(m.fits);
  ASSERT_EQ(kv.admit(2, p), 8);
  EXPECT_EQ(kv.stats().blocks_cached, 0);
  EXPECT_EQ(kv.stats().blocks_used, 3);
  kv.check_invariants();
}

TEST(KvCacheManager, EvictionTakesTheLeastRecentlyUsedTailFirst) {
  KvCacheManager kv(4, 4);
  const auto p = seq_tokens(12);  // 3 full blocks
  ASSERT_EQ(kv.admit(1, p), 0);
  kv.commit(1);
  kv.release(1);  // 3 cached idle, 1 free
  ASSERT_EQ(kv.admit(2, seq_tokens(8, 500)), 0);  // 2 blocks: the free one, then evicts p's tail
  EXPECT_EQ(kv.stats().blocks_cached, 2);
  EXPECT_EQ(kv.match_prefix(p).cached_tokens, 8);  // p's first two blocks survive
  ASSERT_EQ(kv.admit(3, seq_tokens(4, 900)), 0);   // evicts p's block 1
  EXPECT_EQ(kv.match_prefix(p).cached_tokens, 4);
  kv.check_invariants();
}

TEST(KvCacheManager, AdmissionCountsRevivedIdleBlocksAgainstAvailability) {
  KvCacheManager kv(3, 4);
  const auto p = seq_tokens(9);
  ASSERT_EQ(kv.admit(1, p), 0);
  kv.commit(1);
  kv.release(1);  // 2 idle cached + 1 free
  // p needs 3 blocks: 2 revived + 1 fresh: fits exactly.
  EXPECT_TRUE(kv.can_admit(p));
  auto longer = seq_tokens(13);  // 4 blocks: 2 revived + 2 fresh > 3
  const PrefixMatch m = kv.match_prefix(longer);
  EXPECT_EQ(m.cached_tokens, 8);
  EXPECT_FALSE(m.fits);
  EXPECT_FALSE(kv.admit(2, longer).has_value());
  EXPECT_FALSE(kv.contains(2));
  EXPECT_EQ(kv.stats().blocks_cached, 2);  // nothing changed
  kv.check_invariants();
}

TEST(KvCacheManager, ReserveFailsCleanlyWhenFull) {
  KvCacheManager kv(2, 4);
  ASSERT_TRUE(kv.admit(1, seq_tokens(7)));
  EXPECT_TRUE(kv.can_allocate(1, 1));
  EXPECT_FALSE(kv.can_allocate(1, 2));
  EXPECT_EQ(kv.blocks_needed(1, 2), 1);
  EXPECT_FALSE(kv.reserve(1, std::vector<TokenId>{1, 2}).has_value());
  EXPECT_EQ(kv.n_tokens(1), 7);
  EXPECT_EQ(kv.tokens(1).size(), 7u);
  EXPECT_TRUE(kv.reserve(1, std::vector<TokenId>{1}).has_value());
  EXPECT_TRUE(kv.can_allocate(99, 0));
  EXPECT_FALSE(kv.can_allocate(99, 1));  // an unknown sequence counts as a new empty one
  kv.check_invariants();
}

TEST(KvCacheManager, ForkSharesBlocksAndCopiesOnWrite) {
  KvCacheManager kv(10, 4);
  ASSERT_EQ(kv.admit(1, seq_tokens(6)), 0);
  kv.commit(1);
  kv.fork(1, 2);
  EXPECT_EQ(table(kv, 1), table(kv, 2));
  EXPECT_EQ(kv.n_computed(2), 6);
  EXPECT_EQ(std::vector<TokenId>(kv.tokens(2).begin(), kv.tokens(2).end()), seq_tokens(6));
  const BlockId shared_partial = table(kv, 1)[1];
  EXPECT_EQ(kv.blocks_needed(2, 1), 1);
  auto copies = kv.reserve(2, std::vector<TokenId>{42});
  ASSERT_TRUE(copies.has_value());
  ASSERT_EQ(copies->size(), 1u);
  EXPECT_EQ((*copies)[0].src, shared_partial);
  EXPECT_EQ(table(kv, 2)[1], (*copies)[0].dst);
  EXPECT_EQ(table(kv, 1)[1], shared_partial);
  auto none = kv.reserve(1, std::vector<TokenId>{43});
  ASSERT_TRUE(none.has_value());
  EXPECT_TRUE(none->empty());
  kv.commit(1);
  kv.commit(2);
  kv.check_invariants();
  kv.release(1);
  kv.release(2);
  EXPECT_EQ(kv.stats().blocks_used, 0);
  kv.check_invariants();
}

TEST(KvCacheManager, MisuseIsAnInternalError) {
  KvCacheManager kv(10, 4);
  ASSERT_TRUE(kv.admit(1, seq_tokens(5)));
  EXPECT_THROW(kv.admit(1, seq_tokens(5)), Error);
  EXPECT_THROW(kv.reserve(2, seq_tokens(1)), Error);
  EXPECT_THROW(kv.release(2), Error);
  EXPECT_THROW(kv.fork(1, 3), Error);  // not committed
  kv.commit(1);
  EXPECT_THROW(kv.fork(1, 1), Error);
  EXPECT_THROW(kv.n_tokens(5), Error);
  try {
    kv.release(77);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInternal);
    EXPECT_NE(std::string(e.what()).find("77"), std::string::npos);
  }
}

TEST(KvCacheManager, PrefixCachingOff) {
  KvCacheManager kv(10, 4, /*prefix_caching=*/false);
  const auto p = seq_tokens(10);
  ASSERT_EQ(kv.admit(1, p), 0);
  kv.commit(1);
  EXPECT_EQ(kv.admit(2, p), 0);
  kv.release(1);
  kv.release(2);
  EXPECT_EQ(kv.stats().blocks_cached, 0);
  EXPECT_EQ(kv.stats().blocks_free, 10);
  kv.check_invariants();
}

TEST(KvCacheManager, ClearPrefixCache) {
  KvCacheManager kv(10, 4);
  const auto p = seq_tokens(10);
  ASSERT_EQ(kv.admit(1, p), 0);
  kv.commit(1);
  ASSERT_EQ(kv.admit(2, seq_tokens(9, 300)), 0);
  kv.commit(2);
  kv.release(1);
  kv.clear_prefix_cache();
  EXPECT_EQ(kv.stats().blocks_cached, 0);
  EXPECT_EQ(kv.match_prefix(p).cached_tokens, 0);
  EXPECT_EQ(kv.match_prefix(seq_tokens(9, 300)).cached_tokens, 0);
  kv.check_invariants();
  kv.release(2);
  EXPECT_EQ(kv.stats().blocks_free, 10);
  kv.check_invariants();
}

TEST(KvCacheManager, ReleasingEverythingLeavesNoLeak) {
  KvCacheManager kv(32, 4);
  for (SeqId s = 0; s < 6; ++s) {
    ASSERT_TRUE(kv.admit(s, seq_tokens(5 + 3 * static_cast<int>(s))).has_value());
    kv.commit(s);
  }
  kv.fork(2, 10);
  ASSERT_TRUE(kv.reserve(10, seq_tokens(5)));
  for (SeqId s : kv.sequences()) kv.release(s);
  const KvCacheStats st = kv.stats();
  EXPECT_EQ(st.blocks_used, 0);
  EXPECT_EQ(st.sequences, 0);
  EXPECT_EQ(st.blocks_free + st.blocks_cached, 32);
  kv.clear_prefix_cache();
  EXPECT_EQ(kv.stats().blocks_free, 32);
  kv.check_invariants();
}

}  // namespace
}  // namespace quarrel::kv
