// RoPE on Q and K (cos/sin from the host's RopeCache, so angles match the CPU backend's), then
// K and V written into the paged cache as its element type KV (f16, or fp8 e4m3 rounded once from
// f32: kv_elem.cuh). Grid (token, head): blocks [0, n_head) rotate a
// query head; [n_head, n_head + n_kv_head) rotate a key head and store it; the rest store a
// value head. A thread takes rotation pairs (or elements) t, t + blockDim, ... With biases set
// (qwen2), each head first gets its bias added; with q_norm set, a query or key head is then
// RMS-normed (qwen3's and gemma3's per-head norms; rms_norm's arithmetic): launches fewer than
// add_bias and a norm of their own.
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kv_elem.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

template <typename KV>
__global__ void rope_kv_kernel(RopeKvArgs a) {
  pdl_trigger();
  pdl_wait();
  const int t = blockIdx.x, h = blockIdx.y, hd = a.head_dim;
  const int64_t slot = a.slots[t];
  const int64_t blk = slot / a.block_size, off = slot % a.block_size;
  auto cache_at = [&](int g) { return ((blk * a.n_kv_head + g) * a.block_size + off) * hd; };
  if (h >= a.n_head + a.n_kv_head) {  // value head: store
    const int g = h - a.n_head - a.n_kv_head;
    const float* v = a.v + (static_cast<int64_t>(t) * a.n_kv_head + g) * hd;
    const float* b = a.v_bias ? a.v_bias + static_cast<int64_t>(g) * hd : nullptr;
    KV* dst = static_cast<KV*>(a.v_cache) + cache_at(g);
    for (int d = threadIdx.x; d < hd; d += blockDim.x) kv_store(dst + d, b ? v[d] + b[d] : v[d]);
    return;
  }
  const bool is_k = h >= a.n_head;
  const int g = is_k ? h - a.n_head : h;
  float* x = is_k ? a.k + (static_cast<int64_t>(t) * a.n_kv_head + g) * hd : a.q + (static_cast<int64_t>(t) * a.n_head + g) * hd;
  const float* cs = a.cos_sin + static_cast<int64_t>(t) * a.n_dims;
  KV* dst = is_k ? static_cast<KV*>(a.k_cache) + cache_at(g) : nullptr;
  // The head's bias, then its RMSNorm (a.q_bias / a.q_norm set: uniform over the grid):
  // (x[d] + b[d]) * inv * w[d].
  const float* b = a.q_bias ? (is_k ? a.k_bias + static_cast<int64_t>(g) * hd : a.q_bias + static_cast<int64_t>(g) * hd)
                            : nullptr;
  auto biased = [&](int d) { return b ? x[d] + b[d] : x[d]; };
  const float* nw = a.q_norm ? (is_k ? a.k_norm : a.q_norm) : nullptr;
  float inv = 1.0f;
  if (nw) {
    float ss = 0.0f;
    for (int d = threadIdx.x; d < hd; d += blockDim.x) ss += biased(d) * biased(d);
    inv = rsqrtf(block_sum(ss) / static_cast<float>(hd) + a.norm_eps);  // (a barrier: reads before writes)
  }
  auto normed = [&](int d) { return nw ? biased(d) * inv * nw[d] : biased(d); };
  const int half = a.n_dims / 2;
  for (int p = threadIdx.x; p < half; p += blockDim.x) {
    const int i0 = a.neox ? p : 2 * p, i1 = a.neox ? p + half : 2 * p + 1;
    const float c = cs[2 * p], s = cs[2 * p + 1];
    const float2 y = rope_pair(normed(i0), normed(i1), c, s);
    const float y0 = y.x, y1 = y.y;
    x[i0] = y0;
    x[i1] = y1;
    if (is_k) {
      kv_store(dst + i0, y0);
      kv_store(dst + i1, y1);
    }
  }
  for (int d = a.n_dims + threadIdx.x; d < hd && (is_k || nw || b); d += blockDim.x) {  // not rotated
    const float v = normed(d);
    x[d] = v;
    if (is_k) kv_store(dst + d, v);
  }
}

}  // namespace

void rope_kv_store(const RopeKvArgs& a, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  const int threads = a.head_dim / 2 <= 32 ? 32 : (a.head_dim / 2 <= 64 ? 64 : 128);
  const dim3 grid(static_cast<unsigned>(a.n_tokens), static_cast<unsigned>(a.n_head + 2 * a.n_kv_head));
  with_kv_type(a.kv_type, [&](auto kv) { launch(rope_kv_kernel<decltype(kv)>, grid, threads, 0, s, a); });
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
