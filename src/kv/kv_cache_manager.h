#pragma once
// The paged KV cache's bookkeeping for every live sequence: one BlockPool, one BlockTable per
// sequence, and a prefix cache. No tensors and no device code: the backend holds
// [n_blocks * block_size] KV slots per layer and reads/writes them through the slot mappings and
// block tables this class hands out. One owner (the engine loop) calls it; it is not
// thread-safe.
//
// A sequence's life, as the runtime drives it:
//   n_cached = admit(seq, prompt)          // reuses cached prefix blocks; nullopt: no room
//   forward(prompt[n_cached..], slot_mapping(seq, n_cached, n - n_cached)); commit(seq)
//   loop: copies = reserve(seq, {token})    // copy `copies` first (copy-on-write), then
//         forward(token, slot_mapping(seq, pos, 1)); commit(seq)
//   release(seq)                            // finished, cancelled or timed out
//
// Prefix cache: a full block whose KV has been computed (commit) is registered under a hash of
// (its parent block's hash, its block_size token ids), i.e. of the whole token prefix up to its
// end. admit() walks a new prompt block by block and reuses every registered block on the
// chain (the hash is verified against the stored token ids and parent hash, so a 64-bit hash
// collision cannot hand out wrong KV). A registered block whose last owner leaves stays in the
// pool, idle, on an LRU list, and is evicted only when an allocation finds no free block.
// The last prompt token is always computed (its logits are needed), so at most
// (n_prompt - 1) / block_size whole blocks are reused.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "kv/block_pool.h"
#include "kv/block_table.h"

namespace quarrel::kv {

using TokenId = int32_t;
using SeqId = int64_t;

struct KvCacheStats {
  int32_t blocks_total = 0;
  int32_t blocks_used = 0;    // held by at least one sequence (quarrel_kv_blocks_used)
  int32_t blocks_cached = 0;  // idle prefix-cache blocks: reusable, evicted on demand
  int32_t blocks_free = 0;
  int32_t sequences = 0;
  int64_t prefix_query_tokens = 0;  // prompt tokens admit() looked up
  int64_t prefix_hit_tokens = 0;    // of those, tokens served from the prefix cache
};

// What admit(prompt) would do, without doing it.
struct PrefixMatch {
  int32_t cached_tokens = 0;  // prompt tokens whose KV is reused (a multiple of block_size)
  int32_t blocks_needed = 0;  // pool blocks it must take (new ones plus revived idle ones)
  bool fits = false;          // enough blocks are available
};

class KvCacheManager {
 public:
  KvCacheManager(int32_t n_blocks, int32_t block_size = 16, bool prefix_caching = true);
  KvCacheManager(const KvCacheManager&) = delete;
  KvCacheManager& operator=(const KvCacheManager&) = delete;

  int32_t block_size() const { return pool_.block_size(); }
  bool prefix_caching() const { return prefix_caching_; }

  // ---- admission and growth (each either fully succeeds or changes nothing)
  PrefixMatch match_prefix(std::span<const TokenId> prompt) const;
  bool can_admit(std::span<const TokenId> prompt) const { return match_prefix(prompt).fits; }
  // Starts sequence `seq` (which must not exist) with its prompt: cached prefix blocks are
  // shared, the rest are allocated. Returns how many prompt tokens are already computed (the
  // runtime computes only prompt[result..]); nullopt when the pool is too small right now.
  std::optional<int32_t> admit(SeqId seq, std::span<const TokenId> prompt);

  // Pool blocks that reserving n more tokens for seq takes (for an unknown seq: a new empty one).
  int32_t blocks_needed(SeqId seq, int32_t n_new_tokens) const;
  bool can_allocate(SeqId seq, int32_t n_new_tokens) const;
  // Appends tokens (a sampled token, or the next part of a prompt) to an existing sequence and
  // gives them KV slots. Returns the block copies the backend must perform before writing
  // (copy-on-write of a shared last block); nullopt when the pool is too small right now.
  std::optional<std::vector<BlockCopy>> reserve(SeqId seq, std::span<const TokenId> tokens);
  // The KV of seq's first n_computed tokens is now written (monotone; default: all reserved
  // tokens). Full blocks among them enter the prefix cache.
  void commit(SeqId seq, int32_t n_computed);
  void commit(SeqId seq);

  // `to` (which must not exist) becomes a copy of `from` sharing all of its blocks; the first
  // append into a shared partially filled block copies it. `from` must be fully committed.
  void fork(SeqId from, SeqId to);
  // Frees the sequence: its blocks lose an owner; registered ones stay cached, idle.
  void release(SeqId seq);
  // Drops every prefix-cache entry: idle cached blocks become free.
  void clear_prefix_cache();

  // ---- reading
  bool contains(SeqId seq) const { return seqs_.count(seq) != 0; }
  int32_t n_tokens(SeqId seq) const;
  int32_t n_computed(SeqId seq) const;
  std::span<const TokenId> tokens(SeqId seq) const;
  std::span<const BlockId> block_table(SeqId seq) const;
  // Flat KV slots (block * block_size + offset) of positions [pos_begin, pos_begin + n).
  std::vector<int32_t> slot_mapping(SeqId seq, int32_t pos_begin, int32_t n) const;
  void slot_mapping(SeqId seq, int32_t pos_begin, int32_t n, int32_t* out) const;
  std::vector<SeqId> sequences() const;

  const BlockPool& pool() const { return pool_; }
  KvCacheStats stats() const;
  // Checks every internal invariant (refcounts against owners, pool lists, cache entries,
  // per-sequence sizes); throws an internal Error naming the first one broken. For tests.
  void check_invariants() const;

 private:
  struct Sequence {
    explicit Sequence(int32_t block_size) : table(block_size) {}
    BlockTable table;
    std::vector<TokenId> tokens;
    std::vector<uint64_t> block_hashes;  // chain hash of each committed full block
    int32_t n_computed = 0;
  };
  struct CachedBlock {
    uint64_t hash = 0;
    uint64_t parent_hash = 0;
  };

  Sequence& get(SeqId seq);
  const Sequence& get(SeqId seq) const;
  uint64_t block_hash(uint64_t parent, const TokenId* tokens) const;
  // The registered block for (parent, tokens), verified, or kNoBlock.
  BlockId lookup(uint64_t parent, const TokenId* tokens, uint64_t hash) const;
  // Walks the prompt's full blocks through the cache (capped so the last token is computed).
  void walk_prefix(std::span<const TokenId> prompt, std::vector<BlockId>* blocks,
                   std::vector<uint64_t>* hashes, int32_t* n_idle) const;
  void on_evict(BlockId id);

  BlockPool pool_;
  bool prefix_caching_;
  std::unordered_map<SeqId, Sequence> seqs_;
  std::unordered_map<uint64_t, BlockId> by_hash_;
  std::vector<CachedBlock> cached_meta_;   // [n_blocks]
  std::vector<TokenId> cached_tokens_;     // [n_blocks * block_size]
  int64_t prefix_query_tokens_ = 0;
  int64_t prefix_hit_tokens_ = 0;
};

}  // namespace quarrel::kv
