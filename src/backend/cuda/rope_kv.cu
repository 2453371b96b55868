// RoPE on Q and K (cos/sin from the host's RopeCache, so angles match the CPU backend's), then
// K and V written as f16 into the paged cache. Grid (token, head): blocks [0, n_head) rotate a
// query head; [n_head, n_head + n_kv_head) rotate a key head and store it; the rest store a
// value head. A thread takes rotation pairs (or elements) t, t + blockDim, ...
#include <cuda_fp16.h>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace quarrel::cuda {
namespace {

__global__ void rope_kv_kernel(RopeKvArgs a) {
  pdl_wait();
  pdl_trigger();
  const int t = blockIdx.x, h = blockIdx.y, hd = a.head_dim;
  const int64_t slot = a.slots[t];
  const int64_t blk = slot / a.block_size, off = slot % a.block_size;
  auto cache_at = [&](int g) { return ((blk * a.n_kv_head + g) * a.block_size + off) * hd; };
  if (h >= a.n_head + a.n_kv_head) {  // value head: store
    const int g = h - a.n_head - a.n_kv_head;
    const float* v = a.v + (static_cast<int64_t>(t) * a.n_kv_head + g) * hd;
    __half* dst = static_cast<__half*>(a.v_cache) + cache_at(g);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) dst[d] = __float2half(v[d]);
    return;
  }
  const bool is_k = h >= a.n_head;
  const int g = is_k ? h - a.n_head : h;
  float* x = is_k ? a.k + (static_cast<int64_t>(t) * a.n_kv_head + g) * hd : a.q + (static_cast<int64_t>(t) * a.n_head + g) * hd;
  const float* cs = a.cos_sin + static_cast<int64_t>(t) * a.n_dims;
  __half* dst = is_k ? static_cast<__half*>(a.k_cache) + cache_at(g) : nullptr;
  const int half = a.n_dims / 2;
  for (int p = threadIdx.x; p < half; p += blockDim.x) {
    const int i0 = a.neox ? p : 2 * p, i1 = a.neox ? p + half : 2 * p + 1;
    const float c = cs[2 * p], s = cs[2 * p + 1];
    const float x0 = x[i0], x1 = x[i1];
    const float y0 = x0 * c - x1 * s, y1 = x0 * s + x1 * c;
    x[i0] = y0;
    x[i1] = y1;
    if (is_k) {
      dst[i0] = __float2half(y0);
      dst[i1] = __float2half(y1);
    }
  }
  if (is_k) {  // dimensions past n_dims are not rotated
    for (int d = a.n_dims + threadIdx.x; d < hd; d += blockDim.x) dst[d] = __float2half(x[d]);
  }
}

}  // namespace

void rope_kv_store(const RopeKvArgs& a, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  const int threads = a.head_dim / 2 <= 32 ? 32 : (a.head_dim / 2 <= 64 ? 64 : 128);
  launch(rope_kv_kernel, dim3(static_cast<unsigned>(a.n_tokens), static_cast<unsigned>(a.n_head + 2 * a.n_kv_head)),
         threads, 0, s, a);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
