#include "kv/block_table.h"

#include "core/error.h"

namespace quarrel::kv {

BlockTable::BlockTable(int32_t block_size) : block_size_(block_size) {
  QUARREL_ASSERT(block_size >= 1);
}

int32_t BlockTable::blocks_needed(const BlockPool& pool, int32_t n) const {
  QUARREL_ASSERT(n >= 0);
  if (n == 0) return 0;
  const int64_t total = static_cast<int64_t>(n_tokens_) + n;
  const int64_t have = static_cast<int64_t>(blocks_.size());
  const int64_t want = (total + block_size_ - 1) / block_size_;
  int64_t need = want - have;
  const bool partial_last = n_tokens_ % block_size_ != 0;
  if (partial_last && pool.refcount(blocks_.back()) > 1) ++need;
  return static_cast<int32_t>(need);
}

std::optional<std::vector<BlockCopy>> BlockTable::append(BlockPool& pool, int32_t n) {
  QUARREL_ASSERT(pool.block_size() == block_size_);
  std::vector<BlockCopy> copies;
  if (n == 0) return copies;
  QUARREL_ASSERT(n > 0 && static_cast<int64_t>(n_tokens_) + n <= INT32_MAX);
  if (blocks_needed(pool, n) > pool.n_available()) return std::nullopt;
  // Copy-on-write: the first new token lands in the partially filled last block.
  if (n_tokens_ % block_size_ != 0 && pool.refcount(blocks_.back()) > 1) {
    const BlockId src = blocks_.back();
    const auto dst = pool.allocate();
    QUARREL_ASSERT(dst.has_value());
    pool.unref(src);
    blocks_.back() = *dst;
    copies.push_back({src, *dst});
  }
  n_tokens_ += n;
  const size_t want = (static_cast<size_t>(n_tokens_) + block_size_ - 1) / block_size_;
  while (blocks_.size() < want) {
    const auto id = pool.allocate();
    QUARREL_ASSERT(id.has_value());  // checked above: nothing else allocates in between
    blocks_.push_back(*id);
  }
  return copies;
}

void BlockTable::push_full_block(BlockId id) {
  QUARREL_ASSERT(n_tokens_ % block_size_ == 0);
  blocks_.push_back(id);
  n_tokens_ += block_size_;
}

Slot BlockTable::slot(int32_t pos) const {
  QUARREL_ASSERT(pos >= 0 && pos < n_tokens_);
  return {blocks_[pos / block_size_], pos % block_size_};
}

int32_t BlockTable::flat_slot(int32_t pos) const {
  const Slot s = slot(pos);
  return s.block * block_size_ + s.offset;
}

void BlockTable::slot_mapping(int32_t pos_begin, int32_t n, int32_t* out) const {
  QUARREL_ASSERT(n >= 0 && pos_begin >= 0 && static_cast<int64_t>(pos_begin) + n <= n_tokens_);
  for (int32_t i = 0; i < n; ++i) {
    const int32_t pos = pos_begin + i;
    out[i] = blocks_[pos / block_size_] * block_size_ + pos % block_size_;
  }
}

BlockTable BlockTable::fork(BlockPool& pool) const {
  BlockTable t(block_size_);
  t.n_tokens_ = n_tokens_;
  t.blocks_ = blocks_;
  for (BlockId id : blocks_) pool.ref(id);
  return t;
}

void BlockTable::release(BlockPool& pool) {
  for (auto it = blocks_.rbegin(); it != blocks_.rend(); ++it) pool.unref(*it);
  blocks_.clear();
  n_tokens_ = 0;
}

}  // namespace quarrel::kv
