// Greedy sampling on the device: per-row argmax (first index on ties, NaNs skipped).
#include <cmath>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 256;

__global__ void argmax_kernel(const float* x, int64_t n, int32_t* ids) {
  const float* r = x + static_cast<int64_t>(blockIdx.x) * n;
  float best = 0.0f;
  int64_t idx = -1;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float v = r[i];
    if (isnan(v)) continue;
    if (idx < 0 || v > best) {
      best = v;
      idx = i;
    }
  }
  __shared__ float sv[kThreads];
  __shared__ int64_t si[kThreads];
  sv[threadIdx.x] = best;
  si[threadIdx.x] = idx;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float ov = sv[threadIdx.x + stride];
      const int64_t oi = si[threadIdx.x + stride];
      const int64_t mi = si[threadIdx.x];
      if (oi >= 0 && (mi < 0 || ov > sv[threadIdx.x] || (ov == sv[threadIdx.x] && oi < mi))) {
        sv[threadIdx.x] = ov;
        si[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) ids[blockIdx.x] = static_cast<int32_t>(si[0]);
}

}  // namespace

void argmax_rows(const float* x, int64_t n, int64_t rows, int32_t* ids, cudaStream_t s) {
  if (rows == 0) return;
  argmax_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(x, n, ids);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
