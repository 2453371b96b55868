#pragma once
// Attention over the paged KV cache (CPU storage layout and kernels).
//
// KV storage of one layer, K and V alike, GGUF order (innermost first):
//   [head_dim, block_size, n_kv_head, n_blocks]
// Block b holds, for each KV head g, block_size consecutive token rows of head_dim elements:
// the row of (block b, head g, offset o) starts ((b * n_kv_head + g) * block_size + o) *
// row_bytes bytes into the layer's buffer, so the rows a head reads from one block are
// contiguous. Rows are F16 (default), F32 or Q8_0 (head_dim a multiple of 32).
//
// A sequence's token at position p lives in block block_table[p / block_size] at offset
// p % block_size; its slot is block * block_size + offset.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/ggml_type.h"
#include "core/thread_pool.h"

namespace quarrel::cpu {

struct KvLayout {
  GgmlType type = GgmlType::F16;  // F16, F32 or Q8_0
  int head_dim = 0;
  int n_kv_head = 0;
  int block_size = 16;  // tokens per block

  size_t row_bytes() const;                    // one token, one head
  size_t block_bytes() const;                  // one block of K (or of V): all heads
  size_t layer_bytes(int64_t n_blocks) const;  // K (or V) of one layer
};

// Throws Error(kInvalidArgument) naming the problem (type, head_dim for Q8_0, sizes).
void validate(const KvLayout& layout);

// Writes n tokens' K and V rows: k, v [head_dim, n_kv_head, n] (token t at k + t * ld floats;
// ld 0: head_dim * n_kv_head); slots[t] = block * block_size + offset.
void kv_store(const KvLayout& layout, void* k_cache, void* v_cache, const float* k, const float* v, int64_t ld,
              std::span<const int64_t> slots);

struct AttentionParams {
  int n_head = 0;               // query heads, a multiple of n_kv_head (GQA)
  int n_kv_head = 0;
  int head_dim = 0;
  float scale = 0.0f;           // 0: 1 / sqrt(head_dim)
  float softcap = 0.0f;         // > 0: score = softcap * tanh(score * scale / softcap)
  int32_t sliding_window = 0;   // > 0: key position kp visible to query position qp iff qp - kp < window
  bool causal = true;           // key position kp visible iff kp <= qp
};

// One sequence's queries in a batch.
struct AttentionSeq {
  std::span<const int32_t> block_table;  // the sequence's blocks, in position order
  int64_t n_kv = 0;                      // tokens in the cache for it (positions 0 .. n_kv - 1)
  const float* q = nullptr;              // [head_dim, n_head, n_q], query i at q + i * ldq
  std::span<const int32_t> q_pos;        // n_q positions
  float* out = nullptr;                  // [head_dim, n_head, n_q], query i at out + i * ldo
};

// out = softmax(scale * q K^T) V per query head over the visible keys (online softmax in f32;
// no visible key gives zeros). ldq, ldo in floats (0: head_dim * n_head). Work is split over
// (sequence, query, KV head) items; the query heads sharing a KV head are done together.
void attention(const AttentionParams& p, const KvLayout& layout, const void* k_cache, const void* v_cache,
               std::span<const AttentionSeq> seqs, int64_t ldq, int64_t ldo, ThreadPool& pool);

}  // namespace quarrel::cpu
