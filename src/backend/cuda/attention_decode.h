#pragma once
// Decode attention split over the sequence (flash-decoding), GQA-aware. Plain C++17 like
// kernels.h; semantics exactly those of attention() / AttentionArgs (out_q8 included).
//
// Grid (KV head, token, split): a block takes one KV head's group of query heads (K and V rows
// read once for all of them) over one of kDecodeSplits slices of the token's keys; its 4 warps
// take every 4th key of the slice, lanes split the head dimensions (one pair of elements per 64), with an
// online softmax per warp. Warps merge in shared memory, the block writes its partial (max,
// sum, unnormalised output) to `scratch`, and the last block of the (KV head, token) to finish
// (a counter in `counters`, reset by it) merges the splits and writes out: one launch, so a
// CUDA graph of the decode step does not depend on the context length.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

constexpr int kDecodeSplits = 16;

// Whether attention_decode() takes these heads (head_dim even and <= 256, at most 8 query heads
// per KV head); otherwise it runs attention().
bool attention_decode_supported(int head_dim, int n_head, int n_kv_head);
// Scratch floats and counters for n_tokens tokens.
size_t attention_decode_scratch_floats(int n_tokens, int n_head, int head_dim);
size_t attention_decode_counters(int n_tokens, int n_kv_head);
// counters: zeroed once when allocated (every launch leaves them zero).
void attention_decode(const AttentionArgs& a, float* scratch, int* counters, cudaStream_t s);

}  // namespace quarrel::cuda
