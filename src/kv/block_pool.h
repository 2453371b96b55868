#pragma once
// The paged KV cache's block pool: bookkeeping only (no tensors, no device code). The backend
// owns the memory, [n_blocks * block_size] slots per layer; this pool says which blocks are in
// use and by how many owners.
//
// Every block is in exactly one of three states:
//   free    on the free list, refcount 0, contents meaningless;
//   used    refcount > 0: held by that many owners (sequences' block tables);
//   cached  refcount 0 but marked as a prefix-cache block (set_cached): its contents are kept
//           for reuse, it sits on an LRU list and is evicted (made free) only when an
//           allocation finds the free list empty. ref() revives it.
// n_free() + n_used() + n_cached() == n_total() always.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace quarrel::kv {

using BlockId = int32_t;
inline constexpr BlockId kNoBlock = -1;

class BlockPool {
 public:
  // n_blocks >= 0 blocks of block_size >= 1 token slots each.
  explicit BlockPool(int32_t n_blocks, int32_t block_size = 16);

  int32_t block_size() const { return block_size_; }
  int32_t n_total() const { return static_cast<int32_t>(refcount_.size()); }
  int32_t n_free() const { return static_cast<int32_t>(free_.size()); }
  int32_t n_cached() const { return n_cached_; }  // idle prefix-cache blocks (evictable)
  int32_t n_used() const { return n_total() - n_free() - n_cached(); }
  // Blocks an allocation can get: free ones plus evictable cached ones.
  int32_t n_available() const { return n_free() + n_cached(); }

  // A block with refcount 1: from the free list, else by evicting the least recently used
  // cached block (the eviction listener hears of it first). nullopt when neither exists.
  std::optional<BlockId> allocate();

  // Adds an owner. A cached (idle) block is revived: it leaves the LRU list with refcount 1.
  void ref(BlockId id);
  // Drops an owner; returns the new refcount. At 0 the block goes back to the free list, or,
  // when marked cached, to the most-recently-used end of the LRU list.
  int32_t unref(BlockId id);
  int32_t refcount(BlockId id) const;

  // Marks (or unmarks) a used block as one the prefix cache keeps when its last owner leaves.
  void set_cached(BlockId id, bool cached);
  bool is_cached(BlockId id) const;
  // True when the block is cached and idle (refcount 0, on the LRU list).
  bool is_idle(BlockId id) const;

  // Called with a cached block's id just before it is evicted (to drop its hash entry).
  void set_evict_listener(std::function<void(BlockId)> listener) { on_evict_ = std::move(listener); }

  // Evicts up to max_blocks idle cached blocks, least recently used first (the listener hears
  // of each); returns how many were evicted.
  int32_t evict_idle(int32_t max_blocks);

  // Idle cached blocks from least to most recently used (for tests and debugging).
  std::vector<BlockId> lru_order() const;
  // The free list, next to be allocated last (for tests and debugging).
  const std::vector<BlockId>& free_list() const { return free_; }

 private:
  void check_id(BlockId id) const;
  void lru_push_back(BlockId id);
  void lru_remove(BlockId id);
  void evict_one();  // the least recently used idle block -> free list

  int32_t block_size_;
  std::vector<int32_t> refcount_;
  std::vector<uint8_t> cached_;     // 1: prefix-cache block
  std::vector<BlockId> free_;       // stack; lowest ids come out first initially
  // Intrusive doubly linked LRU list over idle cached blocks.
  std::vector<BlockId> lru_prev_, lru_next_;
  BlockId lru_head_ = kNoBlock, lru_tail_ = kNoBlock;
  int32_t n_cached_ = 0;
  std::function<void(BlockId)> on_evict_;
};

}  // namespace quarrel::kv
