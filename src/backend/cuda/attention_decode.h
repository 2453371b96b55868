#pragma once
// Decode attention split over the sequence (flash-decoding), GQA-aware. Plain C++17 like
// kernels.h; semantics exactly those of attention() / AttentionArgs (out_q8 included).
//
// Grid (KV head, token, split): a block takes one KV head's group of query heads (K and V rows
// read once for all of them) over one of kDecodeSplits (16) slices of the token's keys; its 4 warps
// take every 4th key of the slice, lanes split the head dimensions (one pair of elements per 64), with an
// online softmax per warp. Warps merge in shared memory into the block's partial (max, sum,
// unnormalised output); the splits' blocks of a (KV head, token) are one thread-block
// cluster and merge the partials through distributed shared memory, each writing a share of the
// outputs: one launch, no global scratch, so a CUDA graph of the decode step does not depend on
// the context length. Keys more than n_tokens positions back are loaded before the wait on the
// kernel before (PDL): only the step's own keys and q wait for it. With AttentionArgs::k_new it
// also rotates q and the step's own key and stores the new K/V (rope_kv_store's work).
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

constexpr int kDecodeSplits = 16;  // one cluster (H200, 8B Q4_K_M tg128: 8 splits the same, 4 slower)

// Whether attention_decode() runs its own kernel for these arguments (head_dim even and <= 256,
// at most 8 query heads per KV head, head_dim % 32 == 0 with out_q8); otherwise it runs
// attention(), and must not be asked for the fused RoPE (AttentionArgs::k_new).
bool attention_decode_takes(const AttentionArgs& a);
void attention_decode(const AttentionArgs& a, cudaStream_t s);

}  // namespace quarrel::cuda
