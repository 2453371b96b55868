// Decode matrix-vector products straight on the weight blocks: one warp per output row, each
// lane decoding 32-element chunks (lane l takes chunks l, l + 32, ...) and dotting them with up
// to 8 activation columns; warp-shuffle reduction.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/dequant.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kWarps = 4;

template <uint32_t T, int C>
__global__ void __launch_bounds__(kWarps * 32) matvec_kernel(const uint8_t* w, size_t row_bytes, int64_t k, int64_t n,
                                                             const float* x, int64_t ldx, float* y, int64_t ldy) {
  const int lane = threadIdx.x & 31;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (r >= n) return;
  const uint8_t* row = w + static_cast<size_t>(r) * row_bytes;
  const int64_t n_chunks = (k + 31) / 32;
  float acc[C];
#pragma unroll
  for (int c = 0; c < C; ++c) acc[c] = 0.0f;
  for (int64_t ch = lane; ch < n_chunks; ch += 32) {
    float v[32];
    Chunk<T>::get(row, ch, k, v);
    const int64_t base = 32 * ch;
    if (base + 32 <= k && (ldx & 3) == 0) {
#pragma unroll
      for (int c = 0; c < C; ++c) {
        const float4* xv = reinterpret_cast<const float4*>(x + c * ldx + base);
        float a = 0.0f;
#pragma unroll
        for (int i = 0; i < 8; ++i) {
          const float4 f = xv[i];
          a += v[4 * i] * f.x + v[4 * i + 1] * f.y + v[4 * i + 2] * f.z + v[4 * i + 3] * f.w;
        }
        acc[c] += a;
      }
    } else {
      for (int c = 0; c < C; ++c) {
        float a = 0.0f;
        for (int l = 0; l < 32 && base + l < k; ++l) a += v[l] * x[c * ldx + base + l];
        acc[c] += a;
      }
    }
  }
#pragma unroll
  for (int c = 0; c < C; ++c) {
    float a = acc[c];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
    if (lane == 0) y[c * ldy + r] = a;
  }
}

template <uint32_t T>
void launch(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s) {
  const auto blocks = static_cast<unsigned>((w.n + kWarps - 1) / kWarps);
  const auto* d = static_cast<const uint8_t*>(w.data);
  switch (n_cols) {
#define QUARREL_MV_CASE(C) \
  case C: matvec_kernel<T, C><<<blocks, kWarps * 32, 0, s>>>(d, w.row_bytes, w.k, w.n, x, ldx, y, ldy); break;
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
