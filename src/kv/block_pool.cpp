#include "kv/block_pool.h"

#include "core/error.h"

namespace quarrel::kv {

BlockPool::BlockPool(int32_t n_blocks, int32_t block_size) : block_size_(block_size) {
  if (n_blocks < 0) fail(ErrorCode::kInvalidArgument, "KV cache: block count {} is negative", n_blocks);
  if (block_size < 1) fail(ErrorCode::kInvalidArgument, "KV cache: block size {} must be at least 1", block_size);
  refcount_.assign(n_blocks, 0);
  cached_.assign(n_blocks, 0);
  lru_prev_.assign(n_blocks, kNoBlock);
  lru_next_.assign(n_blocks, kNoBlock);
  free_.reserve(n_blocks);
  for (BlockId id = n_blocks - 1; id >= 0; --id) free_.push_back(id);
}

void BlockPool::check_id(BlockId id) const {
  QUARREL_ASSERT(id >= 0 && id < n_total());
}

std::optional<BlockId> BlockPool::allocate() {
  if (free_.empty()) {
    if (lru_head_ == kNoBlock) return std::nullopt;
    evict_one();
  }
  const BlockId id = free_.back();
  free_.pop_back();
  refcount_[id] = 1;
  return id;
}

void BlockPool::ref(BlockId id) {
  check_id(id);
  if (refcount_[id] == 0) {
    QUARREL_ASSERT(cached_[id]);  // a free block cannot gain an owner without allocate()
    lru_remove(id);
    --n_cached_;
  }
  ++refcount_[id];
}

int32_t BlockPool::unref(BlockId id) {
  check_id(id);
  QUARREL_ASSERT(refcount_[id] > 0);
  if (--refcount_[id] == 0) {
    if (cached_[id]) {
      lru_push_back(id);
      ++n_cached_;
    } else {
      free_.push_back(id);
    }
  }
  return refcount_[id];
}

int32_t BlockPool::refcount(BlockId id) const {
  check_id(id);
  return refcount_[id];
}

void BlockPool::set_cached(BlockId id, bool cached) {
  check_id(id);
  QUARREL_ASSERT(refcount_[id] > 0);  // only a used block changes its caching
  cached_[id] = cached ? 1 : 0;
}

bool BlockPool::is_cached(BlockId id) const {
  check_id(id);
  return cached_[id] != 0;
}

bool BlockPool::is_idle(BlockId id) const {
  check_id(id);
  return cached_[id] != 0 && refcount_[id] == 0;
}

std::vector<BlockId> BlockPool::lru_order() const {
  std::vector<BlockId> out;
  for (BlockId id = lru_head_; id != kNoBlock; id = lru_next_[id]) out.push_back(id);
  return out;
}

void BlockPool::evict_one() {
  const BlockId victim = lru_head_;
  if (on_evict_) on_evict_(victim);
  lru_remove(victim);
  cached_[victim] = 0;
  --n_cached_;
  free_.push_back(victim);
}

int32_t BlockPool::evict_idle(int32_t max_blocks) {
  int32_t n = 0;
  while (n < max_blocks && lru_head_ != kNoBlock) {
    evict_one();
    ++n;
  }
  return n;
}

void BlockPool::lru_push_back(BlockId id) {
  lru_prev_[id] = lru_tail_;
  lru_next_[id] = kNoBlock;
  if (lru_tail_ != kNoBlock) lru_next_[lru_tail_] = id;
  else lru_head_ = id;
  lru_tail_ = id;
}

void BlockPool::lru_remove(BlockId id) {
  const BlockId p = lru_prev_[id], n = lru_next_[id];
  if (p != kNoBlock) lru_next_[p] = n;
  else lru_head_ = n;
  if (n != kNoBlock) lru_prev_[n] = p;
  else lru_tail_ = p;
  lru_prev_[id] = lru_next_[id] = kNoBlock;
}

}  // namespace quarrel::kv
