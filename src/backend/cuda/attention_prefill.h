#pragma once
// Prefill attention on the tensor cores (FlashAttention-2 style) over the paged KV cache (f16 or
// fp8 e4m3, widened to f16 in shared memory).
// Plain C++17, like kernels.h. Semantics are exactly those of attention() / AttentionArgs
// (kernels.h); this kernel is for batches with many tokens per sequence (prompt chunks), decode
// keeps attention().
//
// The batch is cut into query tiles: runs of up to kPrefillTileTokens consecutive batch tokens
// that share one block table (the same bt_offset). Positions inside a tile need not be
// consecutive: every query row is masked by its own [lo, pos].
#include <cstdint>

#include <cuda_runtime.h>

#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

// Query rows per tile (and keys per key tile).
constexpr int kPrefillTileTokens = 64;

// Whether attention_prefill() takes the tensor-core path for this head size (64, 80, 96, 128,
// 256); anything else falls back to attention().
bool attention_prefill_supported(int head_dim);

// Host code. Cuts tokens [0, n_tokens) into tiles of up to kPrefillTileTokens consecutive tokens
// with equal bt_offset (host array [n_tokens]); writes pairs (first token, count) to tiles_out
// (room for max_tiles pairs, 2 * max_tiles int32) and returns the number of tiles the batch
// needs, which is at most n_tokens; only the first max_tiles are written (snprintf-like), so
// max_tiles = n_tokens always suffices.
int build_prefill_tiles(const int32_t* bt_offset, int n_tokens, int32_t* tiles_out, int max_tiles);

// out = attention(a) computed per (query tile, query head) on the tensor cores. tiles_device:
// the n_tiles pairs (first token, count) of build_prefill_tiles, on the device. Falls back to
// attention(a, s) (ignoring the tiles) for an unsupported head size or unaligned caches.
void attention_prefill(const AttentionArgs& a, const int32_t* tiles_device, int n_tiles, cudaStream_t s);

}  // namespace quarrel::cuda
