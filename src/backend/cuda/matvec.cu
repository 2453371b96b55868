// Decode matrix-vector products straight on the weight blocks. One block of W warps (W = 1..8,
// enough that every thread has at least one 32-element chunk of a row) computes R consecutive
// output rows: thread t takes chunks t, t + 32W, ... of the k dimension, loads that chunk of the
// activation columns once into registers and dots it with the same chunk of each of its R rows
// (R independent block loads in flight per thread); warp shuffles, then shared memory, add the
// partial sums of the W warps. R is the largest of 8, 4, 2, 1 (fewer with more columns) that
// leaves >= 1024 blocks, so every shape fills all SMs.
//
// Measured with gpu_cuda_matvec_bench (tests/gpu/cuda) against the copy bandwidth; see PERF_NOTES.
#include <algorithm>

#include "backend/cuda/chunk_dot.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_epilogue.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kMaxWarps = 8;
constexpr int64_t kMinBlocks = 1024;

// Columns decoded together: 2 when C is even (x of both in registers), else 1.
template <int C>
constexpr int group_cols() {
  return C % 2 == 0 ? 2 : 1;
}

template <uint32_t T, int C, int R>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_kernel(const uint8_t* __restrict__ w, size_t row_bytes,
                                                                int64_t k, int64_t n, const float* __restrict__ x,
                                                                int64_t ldx, float* __restrict__ y, int64_t ldy,
                                                                bool accumulate, unsigned prefetch_blocks) {
  constexpr int G = group_cols<C>();
  const int64_t r0 = static_cast<int64_t>(blockIdx.x) * R;
  const int64_t n_chunks = (k + 31) / 32;
  float acc[R][C];
  start_rows<R, C>(w, row_bytes, r0, n, n_chunks, acc, blockIdx.x < prefetch_blocks);
  const bool vec_x = (ldx & 3) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
  for (int64_t ch = threadIdx.x; ch < n_chunks; ch += blockDim.x) {
    const int64_t base = 32 * ch;
#pragma unroll
    for (int c0 = 0; c0 < C; c0 += G) {
      float xs[G][32];
      float xsum[G];
      if (vec_x && base + 32 <= k) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float4* xv = reinterpret_cast<const float4*>(x + (c0 + g) * ldx + base);
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            const float4 f = __ldg(xv + i);
            xs[g][4 * i] = f.x, xs[g][4 * i + 1] = f.y, xs[g][4 * i + 2] = f.z, xs[g][4 * i + 3] = f.w;
          }
        }
      } else {
#pragma unroll
        for (int g = 0; g < G; ++g) {
#pragma unroll
          for (int l = 0; l < 32; ++l) xs[g][l] = base + l < k ? x[(c0 + g) * ldx + base + l] : 0.0f;
        }
      }
      if constexpr (ChunkDot<T>::kNeedsXsum) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          float s = 0.0f;
#pragma unroll
          for (int l = 0; l < 32; ++l) s += xs[g][l];
          xsum[g] = s;
        }
      }
      typename ChunkDot<T>::Raw raw[R];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (R == 1 || r0 + r < n) raw[r] = ChunkDot<T>::load(w + static_cast<size_t>(r0 + r) * row_bytes, ch, k);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (R == 1 || r0 + r < n) ChunkDot<T>::template dot<G>(raw[r], xs, xsum, &acc[r][c0]);
      }
    }
  }
  reduce_rows_and_store<R, C, kMaxWarps>(acc, y, ldy, r0, n, accumulate);
}

template <uint32_t T, int C, int R>
void launch_r(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, bool acc, cudaStream_t s) {
  const int64_t n_chunks = (w.k + 31) / 32;
  const int warps = static_cast<int>(std::min<int64_t>(kMaxWarps, std::max<int64_t>(1, n_chunks / 32)));
  const auto blocks = static_cast<unsigned>((w.n + R - 1) / R);
  launch(matvec_kernel<T, C, R>, blocks, warps * 32, 0, s, static_cast<const uint8_t*>(w.data), w.row_bytes, w.k, w.n,
         x, ldx, y, ldy, acc, prefetch_block_limit());
}

template <uint32_t T, int C>
void launch_c(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, bool acc, cudaStream_t s) {
  constexpr int kMaxRows = ChunkDot<T>::kMaxRows;
  if constexpr (C == 1 && kMaxRows >= 8) {
    if (w.n / 8 >= kMinBlocks) return launch_r<T, C, 8>(w, x, ldx, y, ldy, acc, s);
  }
  if constexpr (C <= 2 && kMaxRows >= 4) {
    if (w.n / 4 >= kMinBlocks) return launch_r<T, C, 4>(w, x, ldx, y, ldy, acc, s);
  }
  if constexpr (C <= 2) {
    if (w.n / 2 >= kMinBlocks) return launch_r<T, C, 2>(w, x, ldx, y, ldy, acc, s);
  }
  launch_r<T, C, 1>(w, x, ldx, y, ldy, acc, s);
}

template <uint32_t T>
void launch(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, bool acc,
            cudaStream_t s) {
  switch (n_cols) {
#define QUARREL_MV_CASE(C) \
  case C: launch_c<T, C>(w, x, ldx, y, ldy, acc, s); break;
    QUARREL_MV_CASE(1) QUARREL_MV_CASE(2) QUARREL_MV_CASE(3) QUARREL_MV_CASE(4)
    QUARREL_MV_CASE(5) QUARREL_MV_CASE(6) QUARREL_MV_CASE(7) QUARREL_MV_CASE(8)
#undef QUARREL_MV_CASE
    default: break;
  }
}

}  // namespace

void matvec(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s,
            bool accumulate) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || w.n == 0) return;
  QUARREL_CUDA_DISPATCH_TYPE(w.type, (launch<T>(w, x, ldx, y, ldy, n_cols, accumulate, s)));
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
