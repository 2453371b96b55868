// RMSNorm: one block per row, f32 sum of squares reduced over the block.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

__global__ void rms_norm_kernel(const float* x, const float* w, float* y, int64_t n, float eps) {
  const float* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  float* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
  ss = block_sum(ss);
  const float inv = rsqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) yr[i] = xr[i] * inv * (w ? w[i] : 1.0f);
}

}  // namespace

void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps, cudaStream_t s) {
  if (rows == 0) return;
  const int threads = n >= 1024 ? 1024 : (n >= 256 ? 256 : 32);
  rms_norm_kernel<<<static_cast<unsigned>(rows), threads, 0, s>>>(x, w, y, n, eps);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
