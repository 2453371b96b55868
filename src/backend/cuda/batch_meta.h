#pragma once
// Where each part of a batch's metadata (token ids, positions, KV slots, block tables, RoPE
// cos/sin, prompt attention tiles) sits in the CUDA backend's pinned block and its device copy,
// and the sizes the backend's per-batch buffers grow by.
#include <cstddef>

namespace quarrel::backend {

// Offsets are rounded up to 256 bytes.
constexpr size_t kMetaAlign = 256;
inline size_t meta_aligned(size_t n) { return (n + kMetaAlign - 1) / kMetaAlign * kMetaAlign; }
// The least power-of-two multiple of lo that is at least n (buffer capacities).
inline size_t pow2_at_least(size_t n, size_t lo) {
  size_t c = lo;
  while (c < n) c *= 2;
  return c;
}

// For up to `tokens` tokens and `bt` block-table entries; bytes: the extent a forward copies.
// cs_swa: the sliding-window layers' cos/sin when their RoPE differs (gemma3), else cs.
struct MetaLayout {
  size_t slots = 0, tokens = 0, pos = 0, bt_off = 0, rows = 0, cs = 0, cs_swa = 0, bt = 0, tiles = 0, bytes = 0;
};
MetaLayout meta_layout(size_t tokens, size_t bt, int n_dims, bool rope_swa);

}  // namespace quarrel::backend
