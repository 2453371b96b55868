#pragma once
// The shared start and end of both decode matvec kernels. Start: the weights do not depend on
// the kernel before, so they are fetched into the L2 before waiting on it (PDL), and the
// accumulators are zeroed. End: each thread's partial sums acc[R][C] (R rows, C columns) added
// over the block (warp shuffles, then shared memory across the warps) and stored as
// y[c * ldy + r0 + r] (or added to it) for the rows r0 + r < n.
#include <cstdint>
#include <cstdlib>

#include "backend/cuda/env_knob.h"
#include "backend/cuda/launch.cuh"

namespace quarrel::cuda {

// Prefetches this thread's chunks of rows [r0, r0 + R) (a chunk's bytes sit near
// row_bytes * ch / n_chunks in every type) unless prefetch is false, waits for the previous
// kernel, zeroes acc.
template <int R, int C>
__device__ __forceinline__ void start_rows(const uint8_t* w, size_t row_bytes, int64_t r0, int64_t n,
                                           int64_t n_chunks, float (&acc)[R][C], bool prefetch = true) {
  for (int64_t ch = threadIdx.x; prefetch && ch < n_chunks; ch += blockDim.x) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (r0 + r < n) prefetch_l2(w + static_cast<size_t>(r0 + r) * row_bytes + row_bytes * ch / n_chunks);
    }
  }
  // A matvec lets its dependents start only after its wait, unlike the small kernels (launch.cuh):
  // triggering first here let the next kernel's blocks take the SMs during the matvec's tail (H200,
  // `-p 0` tg128: 8B Q4_K_M 550.5 -> 541.0 tok/s, 1B 1898.6 -> 1853.5).
  pdl_wait();
  pdl_trigger();
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int c = 0; c < C; ++c) acc[r][c] = 0.0f;
  }
}

// How many of a matvec's blocks prefetch (blockIdx.x below it) their weights into the L2 before
// the PDL wait. Session 4 measured a gain from the first 8 blocks per SM (H200, 8B Q4_K_M: 383.6
// tok/s prefetching in every block, 389.4 in none, 394.6 in 8 per SM); with today's kernels it
// costs (session 6: 1B Q4_K_M 1829 tok/s with none, 1786-1797 with 8 per SM, 1747 with all;
// 8B 505.2 / 500-503 / 477), so the default is none. QUARREL_CUDA_PREFETCH_BLOCKS sets it; the
// per-SM default it had is 8 x the SM count.
inline unsigned prefetch_block_limit() {
  static const unsigned n = static_cast<unsigned>(env_int("QUARREL_CUDA_PREFETCH_BLOCKS", 0));
  return n;
}

// part[w][i] = the sum of v[i] over warp w's lanes (then a block barrier): the block's sum of
// v[i] is the sum of part[w][i] over its warps.
template <int N, int kMaxWarps>
__device__ __forceinline__ void warp_partials(const float (&v)[N], float (&part)[kMaxWarps][N]) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float a = v[i];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
    if (lane == 0) part[warp][i] = a;
  }
  __syncthreads();
}

// The block's sum of part[.][i] (warp_partials' result).
template <int N, int kMaxWarps>
__device__ __forceinline__ float block_total(const float (&part)[kMaxWarps][N], int i) {
  const int n_warps = static_cast<int>(blockDim.x >> 5);
  float s = 0.0f;
  for (int wi = 0; wi < n_warps; ++wi) s += part[wi][i];
  return s;
}

template <int R, int C, int kMaxWarps>
__device__ __forceinline__ void reduce_rows_and_store(const float (&acc)[R][C], float* y, int64_t ldy, int64_t r0,
                                                      int64_t n, bool accumulate) {
  __shared__ float part[kMaxWarps][R * C];
  float v[R * C];
#pragma unroll
  for (int i = 0; i < R * C; ++i) v[i] = acc[i / C][i % C];
  warp_partials<R * C, kMaxWarps>(v, part);
  for (int i = threadIdx.x; i < R * C; i += blockDim.x) {
    const float s = block_total<R * C, kMaxWarps>(part, i);
    const int r = i / C, c = i % C;
    if (r0 + r < n) {
      float* out = y + c * ldy + r0 + r;
      *out = accumulate ? *out + s : s;
    }
  }
}

}  // namespace quarrel::cuda
