// Randomized test: thousands of random operations (admit with prefix reuse, append, partial
// commits, fork, release, eviction under pressure) against a simple model. Besides the
// bookkeeping invariants (no block both free and used, refcounts equal owners, used + cached +
// free == total, nothing leaks), it simulates the KV contents: the "forward pass" writes into each
// token's slot a hash of the token prefix up to it, copies blocks as told (copy-on-write), and
// every sequence must read back its own prefix hashes through its block table. That catches a
// prefix hit on the wrong block, a write into a shared block and a missed copy.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <random>
#include <vector>

#include "common/random.h"
#include "kv/kv_cache_manager.h"

namespace quarrel::kv {
namespace {

uint64_t extend_hash(uint64_t h, TokenId t) {
  h ^= static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

struct ModelSeq {
  std::vector<TokenId> tokens;
  std::vector<uint64_t> prefix_hash;  // [i]: hash of tokens[0..i]
  int32_t computed = 0;
  void push(TokenId t) {
    tokens.push_back(t);
    prefix_hash.push_back(extend_hash(prefix_hash.empty() ? 1 : prefix_hash.back(), t));
  }
};

class Harness {
 public:
  Harness(uint64_t seed, int32_t n_blocks, int32_t block_size)
      : rng_(seed), kv_(n_blocks, block_size), bs_(block_size),
        content_(static_cast<size_t>(n_blocks) * block_size, 0) {
    // A few base prompts; new prompts extend random prefixes of them, so prefixes repeat. The
    // tiny vocabulary makes equal blocks under different prefixes common.
    for (int i = 0; i < 6; ++i) {
      std::vector<TokenId> b(pick(1, 70));
      for (auto& t : b) t = pick(0, 3);
      bases_.push_back(b);
    }
  }

  int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  void admit() {
    std::vector<TokenId> prompt;
    const auto& base = bases_[pick(0, static_cast<int>(bases_.size()) - 1)];
    const int keep = pick(0, static_cast<int>(base.size()));
    prompt.assign(base.begin(), base.begin() + keep);
    const int extra = pick(0, 20);
    for (int i = 0; i < extra; ++i) prompt.push_back(pick(0, 3));
    const SeqId id = next_id_++;
    const PrefixMatch m = kv_.match_prefix(prompt);
    const KvCacheStats before = kv_.stats();
    auto cached = kv_.admit(id, prompt);
    ASSERT_EQ(cached.has_value(), m.fits);
    if (!cached) {
      const KvCacheStats after = kv_.stats();
      ASSERT_EQ(after.blocks_free, before.blocks_free);
      ASSERT_EQ(after.blocks_cached, before.blocks_cached);
      ASSERT_FALSE(kv_.contains(id));
      ++n_admit_failed_;
      return;
    }
    ASSERT_EQ(*cached, m.cached_tokens);
    ASSERT_EQ(*cached % bs_, 0);
    ASSERT_TRUE(*cached == 0 || *cached < static_cast<int32_t>(prompt.size()));
    ModelSeq s;
    for (TokenId t : prompt) s.push(t);
    s.computed = *cached;
    n_hit_tokens_ += *cached;
    seqs_[id] = s;
    // The reused KV must be exactly this prompt's.
    verify_seq(id);
  }

  void append() {
    if (seqs_.empty()) return;
    const SeqId id = random_seq();
    std::vector<TokenId> toks(pick(1, 2 * bs_));
    for (auto& t : toks) t = pick(0, 3);
    const bool can = kv_.can_allocate(id, static_cast<int32_t>(toks.size()));
    auto copies = kv_.reserve(id, toks);
    ASSERT_EQ(copies.has_value(), can);
    if (!copies) return;
    for (const BlockCopy& c : *copies) {
      ASSERT_EQ(kv_.pool().refcount(c.dst), 1);
      ASSERT_GE(kv_.pool().refcount(c.src), 1);
      std::copy_n(content_.begin() + static_cast<ptrdiff_t>(c.src) * bs_, bs_,
                  content_.begin() + static_cast<ptrdiff_t>(c.dst) * bs_);
      ++n_copies_;
    }
    for (TokenId t : toks) seqs_[id].push(t);
  }

  // The forward pass for some of a sequence's pending tokens, then commit.
  void compute() {
    if (seqs_.empty()) return;
    const SeqId id = random_seq();
    ModelSeq& s = seqs_[id];
    const int32_t n = static_cast<int32_t>(s.tokens.size());
    if (s.computed == n) return;
    const int32_t upto = pick(0, 2) == 0 ? pick(s.computed, n) : n;
    const auto slots = kv_.slot_mapping(id, s.computed, upto - s.computed);
    for (int32_t pos = s.computed; pos < upto; ++pos) {
      const int32_t slot = slots[pos - s.computed];
      ASSERT_EQ(kv_.pool().refcount(slot / bs_), 1) << "write into a shared block";
      content_[slot] = s.prefix_hash[pos];
    }
    s.computed = upto;
    if (upto == n && pick(0, 1)) kv_.commit(id);
    else kv_.commit(id, upto);
  }

  void fork() {
    if (seqs_.empty()) return;
    const SeqId from = random_seq();
    if (seqs_[from].computed != static_cast<int32_t>(seqs_[from].tokens.size())) return;
    const SeqId to = next_id_++;
    kv_.fork(from, to);
    seqs_[to] = seqs_[from];
    ++n_forks_;
  }

  void release() {
    if (seqs_.empty()) return;
    const SeqId id = random_seq();
    kv_.release(id);
    seqs_.erase(id);
  }

  SeqId random_seq() {
    auto it = seqs_.begin();
    std::advance(it, pick(0, static_cast<int>(seqs_.size()) - 1));
    return it->first;
  }

  void verify_seq(SeqId id) {
    const ModelSeq& s = seqs_.at(id);
    const auto toks = kv_.tokens(id);
    ASSERT_EQ(std::vector<TokenId>(toks.begin(), toks.end()), s.tokens);
    ASSERT_EQ(kv_.n_tokens(id), static_cast<int32_t>(s.tokens.size()));
    ASSERT_EQ(kv_.n_computed(id), s.computed);
    if (s.computed == 0) return;
    const auto slots = kv_.slot_mapping(id, 0, s.computed);
    for (int32_t pos = 0; pos < s.computed; ++pos)
      ASSERT_EQ(content_[slots[pos]], s.prefix_hash[pos]) << "seq " << id << " pos " << pos;
  }

  // The model's own view of the pool, independent of check_invariants().
  void verify_all() {
    const BlockPool& pool = kv_.pool();
    const int32_t n = pool.n_total();
    std::vector<int32_t> owners(n, 0);
    ASSERT_EQ(kv_.sequences().size(), seqs_.size());
    for (const auto& [id, s] : seqs_) {
      verify_seq(id);
      const auto blocks = kv_.block_table(id);
      ASSERT_EQ(static_cast<int32_t>(blocks.size()), (static_cast<int32_t>(s.tokens.size()) + bs_ - 1) / bs_);
      for (BlockId b : blocks) ++owners[b];
    }
    std::vector<int> state(n, 0);  // 1 free, 2 idle cached
    for (BlockId b : pool.free_list()) {
      ASSERT_EQ(state[b], 0) << "block " << b << " twice on the free list";
      state[b] = 1;
    }
    for (BlockId b : pool.lru_order()) {
      ASSERT_EQ(state[b], 0) << "block " << b << " both free and idle";
      state[b] = 2;
    }
    int32_t used = 0;
    for (BlockId b = 0; b < n; ++b) {
      ASSERT_EQ(pool.refcount(b), owners[b]) << "block " << b;
      if (owners[b] > 0) {
        ASSERT_EQ(state[b], 0) << "block " << b << " both used and free/idle";
        ++used;
      } else {
        ASSERT_NE(state[b], 0) << "block " << b << " leaked";
      }
    }
    const KvCacheStats st = kv_.stats();
    ASSERT_EQ(st.blocks_used, used);
    ASSERT_EQ(st.blocks_used + st.blocks_free + st.blocks_cached, st.blocks_total);
    kv_.check_invariants();
  }

  void run(int n_ops) {
    for (int op = 0; op < n_ops; ++op) {
      const int r = pick(0, 99);
      if (r < 22) admit();
      else if (r < 52) append();
      else if (r < 77) compute();
      else if (r < 83) fork();
      else release();
      if (testing::Test::HasFatalFailure()) return;
      verify_all();
      if (testing::Test::HasFatalFailure()) return;
    }
    for (SeqId id : kv_.sequences()) {
      kv_.release(id);
      seqs_.erase(id);
    }
    verify_all();
    const KvCacheStats st = kv_.stats();
    EXPECT_EQ(st.blocks_used, 0);
    EXPECT_EQ(st.blocks_free + st.blocks_cached, st.blocks_total);
    kv_.clear_prefix_cache();
    EXPECT_EQ(kv_.stats().blocks_free, st.blocks_total);
    kv_.check_invariants();
  }

  std::mt19937_64 rng_;
  KvCacheManager kv_;
  int32_t bs_;
  std::vector<uint64_t> content_;  // the simulated KV: one value per slot
  std::vector<std::vector<TokenId>> bases_;
  std::map<SeqId, ModelSeq> seqs_;
  SeqId next_id_ = 0;
  int64_t n_hit_tokens_ = 0, n_admit_failed_ = 0, n_copies_ = 0, n_forks_ = 0;
};

TEST(KvRandom, ThousandsOfOperationsKeepEveryInvariant) {
  const uint64_t seed = test::test_seed();
  for (int32_t bs : {1, 3, 4, 16}) {
    SCOPED_TRACE(testing::Message() << "seed " << seed << " block_size " << bs);
    Harness h(seed + static_cast<uint64_t>(bs), bs == 16 ? 24 : 64, bs);
    h.run(6000);
    if (HasFatalFailure()) return;
    std::printf("bs %d: hit tokens %lld, failed admits %lld, copies %lld, forks %lld\n", bs, (long long)h.n_hit_tokens_, (long long)h.n_admit_failed_, (long long)h.n_copies_, (long long)h.n_forks_);
    // The run must have exercised what it is meant to.
    EXPECT_GT(h.n_hit_tokens_, 0);
    EXPECT_GT(h.n_admit_failed_, 0);
    EXPECT_GT(h.n_forks_, 0);
    if (bs > 1) {
      EXPECT_GT(h.n_copies_, 0);
    }
  }
}

}  // namespace
}  // namespace quarrel::kv
