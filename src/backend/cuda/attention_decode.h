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
// outputs: one launch, no global scratch. Short contexts take a second kernel (below), so a
// decode graph depends on the context only through which of the two it holds. Keys more than
// n_tokens positions back are loaded before the wait on the kernel before (PDL): only the step's
// own keys and q wait for it. With AttentionArgs::k_new it
// also rotates q and the step's own key and stores the new K/V (rope_kv_store's work).
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

#include "backend/cuda/kernels.h"

namespace quarrel::cuda {

constexpr int kDecodeSplits = 16;  // one cluster (H200, 8B Q4_K_M tg128: 8 splits the same, 4 slower)

// Batches whose tokens attend to at most this many keys (AttentionArgs::max_keys) take a kernel
// without clusters: a block of 16 warps per query head loads its first 64 keys before it waits on
// the kernel before (one more pass per 64 after it), and merges its warps in shared memory
// (heads past 128 dimensions: 32 keys a pass). A cluster launch costs
// about 1.5 us per layer on the H200, more than such a context's keys take to read (8B, tg128
// from an empty context: Q4_K_M 542.4-542.9 -> 546.5-548.4 tok/s, Q4_0 600.5 -> 618.6; the 1B
// within noise). A token past the limit is still computed right by it, only slower.
constexpr int kShortContextKeys = 128;
// The most keys per token for which attention_decode takes that kernel: kShortContextKeys, or
// for comparisons QUARREL_CUDA_SHORT_ATTENTION=N (0: never). Measured when the kernel loaded 128
// keys per pass: past 128 keys its passes after the PDL wait were slower than the split kernel
// (8B Q4_K_M, tg from an empty context, limit 0 / 128 / 256 / 512 keys: tg256 535.5 / 538.0 /
// 520.1; tg512 511.1 / 513.5 / 506.5 / 461.7 tok/s). With 64 keys per pass (session 18, H200),
// limits of 64, 128 and 256 keys were within noise of each other (8B Q4_K_M tg128: 562-564 tok/s).
int short_context_keys();
// Whether attention_decode takes the short-context kernel for tokens attending to at most
// max_keys keys (AttentionArgs::max_keys; 0: unknown) of heads of head_dim; the backend keys its
// decode graphs by it.
bool short_context(int max_keys, int head_dim);

// Whether attention_decode() runs its own kernel for these arguments (head_dim even and <= 256,
// at most 8 query heads per KV head, head_dim % 32 == 0 with out_q8); otherwise it runs
// attention(), and must not be asked for the fused RoPE (AttentionArgs::k_new).
bool attention_decode_takes(const AttentionArgs& a);
void attention_decode(const AttentionArgs& a, cudaStream_t s);

}  // namespace quarrel::cuda
