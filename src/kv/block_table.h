#pragma once
// One sequence's block table: the pool blocks that hold its tokens' KV, in order. Token at
// position pos lives in blocks()[pos / block_size] at offset pos % block_size; its flat slot
// (the index the backend writes, in [0, n_blocks * block_size)) is block * block_size + offset.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "kv/block_pool.h"

namespace quarrel::kv {

// A block the backend must copy (all of its slots, every layer) before the step's forward pass:
// copy-on-write of a shared partially filled block.
struct BlockCopy {
  BlockId src = kNoBlock;
  BlockId dst = kNoBlock;
  bool operator==(const BlockCopy&) const = default;
};

struct Slot {
  BlockId block = kNoBlock;
  int32_t offset = 0;
  bool operator==(const Slot&) const = default;
};

class BlockTable {
 public:
  explicit BlockTable(int32_t block_size);

  int32_t block_size() const { return block_size_; }
  int32_t n_tokens() const { return n_tokens_; }
  int32_t n_blocks() const { return static_cast<int32_t>(blocks_.size()); }
  std::span<const BlockId> blocks() const { return blocks_; }

  // Pool blocks that append(pool, n) would take: new blocks for the tokens past the last
  // block's free slots, plus one when the partially filled last block is shared (refcount > 1)
  // and must be copied before it is written.
  int32_t blocks_needed(const BlockPool& pool, int32_t n) const;

  // Adds n token slots at the end, allocating blocks as needed. A shared, partially filled last
  // block is first replaced by a private copy (returned: the backend copies src to dst). All or
  // nothing: nullopt when the pool cannot supply blocks_needed() blocks, and then nothing changed.
  std::optional<std::vector<BlockCopy>> append(BlockPool& pool, int32_t n);

  // Appends an already referenced full block (a prefix-cache hit). Only while every block so
  // far is full; the caller has done pool.ref(id) for this table.
  void push_full_block(BlockId id);

  Slot slot(int32_t pos) const;
  int32_t flat_slot(int32_t pos) const;
  // Flat slots for positions [pos_begin, pos_begin + n), written to out[0..n).
  void slot_mapping(int32_t pos_begin, int32_t n, int32_t* out) const;

  // A table sharing every block of this one (each gets one more reference).
  BlockTable fork(BlockPool& pool) const;

  // Drops this table's reference to every block (last block first, so that in the prefix
  // cache's LRU the tail of a sequence is evicted before its head) and empties the table.
  void release(BlockPool& pool);

 private:
  int32_t block_size_;
  int32_t n_tokens_ = 0;
  std::vector<BlockId> blocks_;
};

}  // namespace quarrel::kv
