// RoPE on Q and K (cos/sin from the host's RopeCache, so angles match the CPU backend's), then
// K and V written as f16 into the paged cache. One block of 512 threads per token.
#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace quarrel::cuda {
namespace {

__device__ __forceinline__ void rotate(float* x, int n_heads, int head_dim, int n_dims, bool neox, const float* cs) {
  const int half = n_dims / 2;
  for (int i = threadIdx.x; i < n_heads * half; i += blockDim.x) {
    const int h = i / half, p = i % half;
    float* xh = x + h * head_dim;
    const int i0 = neox ? p : 2 * p, i1 = neox ? p + half : 2 * p + 1;
    const float c = cs[2 * p], s = cs[2 * p + 1];
    const float x0 = xh[i0], x1 = xh[i1];
    xh[i0] = x0 * c - x1 * s;
    xh[i1] = x0 * s + x1 * c;
  }
}

__global__ void rope_kv_kernel(RopeKvArgs a) {
  pdl_wait();
  pdl_trigger();
  const int t = blockIdx.x;
  const float* cs = a.cos_sin + static_cast<int64_t>(t) * a.n_dims;
  rotate(a.q + static_cast<int64_t>(t) * a.n_head * a.head_dim, a.n_head, a.head_dim, a.n_dims, a.neox, cs);
  float* k = a.k + static_cast<int64_t>(t) * a.n_kv_head * a.head_dim;
  rotate(k, a.n_kv_head, a.head_dim, a.n_dims, a.neox, cs);
  __syncthreads();
  const float* v = a.v + static_cast<int64_t>(t) * a.n_kv_head * a.head_dim;
  const int64_t slot = a.slots[t];
  const int64_t blk = slot / a.block_size, off = slot % a.block_size;
  for (int i = threadIdx.x; i < a.n_kv_head * a.head_dim; i += blockDim.x) {
    const int g = i / a.head_dim, d = i % a.head_dim;
    const int64_t dst = ((blk * a.n_kv_head + g) * a.block_size + off) * a.head_dim + d;
    static_cast<__half*>(a.k_cache)[dst] = __float2half(k[i]);
    static_cast<__half*>(a.v_cache)[dst] = __float2half(v[i]);
  }
}

}  // namespace

void rope_kv_store(const RopeKvArgs& a, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  launch(rope_kv_kernel, static_cast<unsigned>(a.n_tokens), 512, 0, s, a);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
