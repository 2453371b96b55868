// RMSNorm: one block per row, f32 sum of squares reduced over the block; optionally the result
// is also quantized for the integer matvec (each warp's 32 consecutive outputs are one chunk).
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

template <bool kQ8>
__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t n, float eps, Q8Act q8) {
  pdl_wait();
  pdl_trigger();
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  float* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {  // n % 32 == 0 with kQ8: whole warps
    const float v = xr[i] * inv * (w ? w[i] : 1.0f);
    yr[i] = v;
    if constexpr (kQ8) quantize_chunk_warp(v, q8, blockIdx.x, i / 32);
  }
}

}  // namespace

void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps, cudaStream_t s,
              const Q8Act* q8) {
  if (rows == 0) return;
  const int threads = n >= 1024 ? 1024 : (n >= 256 ? 256 : 32);
  if (q8) {
    if (n % 32 != 0) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "rms_norm: q8 output of rows of {}", n);
    launch(rms_norm_kernel<true>, static_cast<unsigned>(rows), threads, 0, s, x, w, y, n, eps, *q8);
  } else {
    launch(rms_norm_kernel<false>, static_cast<unsigned>(rows), threads, 0, s, x, w, y, n, eps, Q8Act{});
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
