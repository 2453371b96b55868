// Decode matrix-vector products straight on the weight blocks: each warp takes R output rows,
// each lane decodes 32-element chunks (lane l takes chunks l, l + 32, ...) of those rows and dots
// them with up to 8 activation columns held in registers; warp-shuffle reduction.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dequant.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kWarps = 4;

// Rows per warp R: each lane loads its chunk of x once and dots it with R rows (x read once per
// R rows). R > 1 only for 1-2 columns (registers) and only while the grid keeps >= 1024 blocks:
// small matrices need every row in its own warp to fill the GPU (measured on an H100: R = 8 on
// a 2048-row matrix left 64 blocks and took 15 us for 2.4 MB).
constexpr int64_t kMinBlocks = 1024;
template <uint32_t T, int C, int R>
__global__ void __launch_bounds__(kWarps * 32) matvec_kernel(const uint8_t* w, size_t row_bytes, int64_t k, int64_t n,
                                                             const float* x, int64_t ldx, float* y, int64_t ldy) {
  const int lane = threadIdx.x & 31;
  const int64_t r0 = (static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5)) * R;
  if (r0 >= n) return;
  const int64_t n_chunks = (k + 31) / 32;
  float acc[R][C];
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int c = 0; c < C; ++c) acc[r][c] = 0.0f;
  }
  const bool vec_x = (ldx & 3) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
  for (int64_t ch = lane; ch < n_chunks; ch += 32) {
    const int64_t base = 32 * ch;
    if constexpr (R > 1) {
      float xs[C][32];
      if (vec_x && base + 32 <= k) {
#pragma unroll
        for (int c = 0; c < C; ++c) {
          const float4* xv = reinterpret_cast<const float4*>(x + c * ldx + base);
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            const float4 f = xv[i];
            xs[c][4 * i] = f.x, xs[c][4 * i + 1] = f.y, xs[c][4 * i + 2] = f.z, xs[c][4 * i + 3] = f.w;
          }
        }
      } else {
#pragma unroll
        for (int c = 0; c < C; ++c) {
#pragma unroll
          for (int l = 0; l < 32; ++l) xs[c][l] = base + l < k ? x[c * ldx + base + l] : 0.0f;
        }
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (r0 + r < n) {
          float v[32];
          Chunk<T>::get(w + static_cast<size_t>(r0 + r) * row_bytes, ch, k, v);
#pragma unroll
          for (int c = 0; c < C; ++c) {
            float a = 0.0f;
#pragma unroll
            for (int l = 0; l < 32; ++l) a += v[l] * xs[c][l];
            acc[r][c] += a;
          }
        }
      }
    } else {  // many columns: x read per chunk (too many registers to hold)
      float v[32];
      Chunk<T>::get(w + static_cast<size_t>(r0) * row_bytes, ch, k, v);
#pragma unroll
      for (int c = 0; c < C; ++c) {
        float a = 0.0f;
        if (vec_x && base + 32 <= k) {
          const float4* xv = reinterpret_cast<const float4*>(x + c * ldx + base);
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            const float4 f = xv[i];
            a += v[4 * i] * f.x + v[4 * i + 1] * f.y + v[4 * i + 2] * f.z + v[4 * i + 3] * f.w;
          }
        } else {
#pragma unroll
          for (int l = 0; l < 32; ++l) {
            if (base + l < k) a += v[l] * x[c * ldx + base + l];
          }
        }
        acc[0][c] += a;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
#pragma unroll
    for (int c = 0; c < C; ++c) {
      float a = acc[r][c];
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
      if (lane == 0 && r0 + r < n) y[c * ldy + r0 + r] = a;
    }
  }
}

template <uint32_t T, int C, int R>
void launch_r(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, cudaStream_t s) {
  constexpr int rows_per_block = kWarps * R;
  const auto blocks = static_cast<unsigned>((w.n + rows_per_block - 1) / rows_per_block);
  matvec_kernel<T, C, R><<<blocks, kWarps * 32, 0, s>>>(static_cast<const uint8_t*>(w.data), w.row_bytes, w.k, w.n, x,
                                                         ldx, y, ldy);
}

template <uint32_t T, int C>
void launch_c(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, cudaStream_t s) {
  if constexpr (C <= 2) {
    const int64_t row_groups = w.n / kWarps;
    if (C == 1 && row_groups / 8 >= kMinBlocks) return launch_r<T, C, 8>(w, x, ldx, y, ldy, s);
    if (row_groups / 4 >= kMinBlocks) return launch_r<T, C, 4>(w, x, ldx, y, ldy, s);
    if (row_groups / 2 >= kMinBlocks) return launch_r<T, C, 2>(w, x, ldx, y, ldy, s);
  }
  launch_r<T, C, 1>(w, x, ldx, y, ldy, s);
}

template <uint32_t T>
void launch(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s) {
  switch (n_cols) {
#define QUARREL_MV_CASE(C) \
  case C: launch_c<T, C>(w, x, ldx, y, ldy, s); break;
    QUARREL_MV_CASE(1) QUARREL_MV_CASE(2) QUARREL_MV_CASE(3) QUARREL_MV_CASE(4)
    QUARREL_MV_CASE(5) QUARREL_MV_CASE(6) QUARREL_MV_CASE(7) QUARREL_MV_CASE(8)
#undef QUARREL_MV_CASE
    default: break;
  }
}

}  // namespace

void matvec(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || w.n == 0) return;
  QUARREL_CUDA_DISPATCH_TYPE(w.type, (launch<T>(w, x, ldx, y, ldy, n_cols, s)));
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
