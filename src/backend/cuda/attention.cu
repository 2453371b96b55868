// Paged attention for decode and prefill alike: one block per (query head, token), keys taken
// 128 at a time through the token's block table with an online softmax in f32; each thread
// scores one key of a chunk, then accumulates its head dimensions (d = tid, tid + 128, ...)
// over the chunk's weights. Causal, optional sliding window. Templated on the cache's element
// type KV (f16 or fp8 e4m3, kv_elem.cuh), widened to f32 as it is read.

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/kv_elem.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxDimsPerThread = kAttentionMaxHeadDim / kThreads;

template <typename KV>
__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionArgs a, float scale) {
  const int h = blockIdx.x, t = blockIdx.y, tid = threadIdx.x;
  const int hd = a.head_dim;
  const int g = h / (a.n_head / a.n_kv_head);
  __shared__ float q[kAttentionMaxHeadDim];
  __shared__ float w[kThreads];
  // The batch metadata (positions, block tables) was copied before the step's first kernel:
  // look up the first chunk's key rows before waiting for the kernel that wrote q and the cache.
  const int pos = a.positions[t];
  const int lo = a.sliding_window > 0 && pos - a.sliding_window + 1 > 0 ? pos - a.sliding_window + 1 : 0;
  const int32_t* bt = a.block_tables + a.bt_offset[t];
  const KV* kc = static_cast<const KV*>(a.k_cache);
  const KV* vc = static_cast<const KV*>(a.v_cache);
  auto row = [&](int j) {
    const int64_t blk = bt[j / a.block_size];
    return ((blk * a.n_kv_head + g) * a.block_size + j % a.block_size) * hd;
  };
  const int64_t first_row = lo + tid <= pos ? row(lo + tid) : 0;
  pdl_trigger();
  pdl_wait();
  const float* qt = a.q + (static_cast<int64_t>(t) * a.n_head + h) * hd;
  for (int d = tid; d < hd; d += kThreads) q[d] = qt[d];
  __syncthreads();

  __shared__ int64_t rowoff[kThreads];  // cache element offset of each key row of the chunk
  float m = -FLT_MAX, l = 0.0f;
  float acc[kMaxDimsPerThread];
#pragma unroll
  for (int i = 0; i < kMaxDimsPerThread; ++i) acc[i] = 0.0f;

  for (int c0 = lo; c0 <= pos; c0 += kThreads) {
    const int j = c0 + tid;
    float s = -FLT_MAX;
    if (j <= pos) {
      const int64_t ro = c0 == lo ? first_row : row(j);
      rowoff[tid] = ro;
      float dot = 0.0f;
      if ((hd & 7) == 0) {  // 8 elements per load (16 bytes of f16, 8 of fp8), eight in flight
        float d0 = 0.0f, d1 = 0.0f;
#pragma unroll 8
        for (int c = 0; c < hd / 8; ++c) {
          float f[8];
          kv_load8(kc + ro + 8 * c, f);
          const float* qc = q + 8 * c;
          d0 += qc[0] * f[0] + qc[1] * f[1] + qc[2] * f[2] + qc[3] * f[3];
          d1 += qc[4] * f[4] + qc[5] * f[5] + qc[6] * f[6] + qc[7] * f[7];
        }
        dot = d0 + d1;
      } else if ((hd & 1) == 0) {
#pragma unroll 8
        for (int d = 0; d < hd / 2; ++d) {
          const float2 kf = kv_load2(kc + ro + 2 * d);
          dot += q[2 * d] * kf.x + q[2 * d + 1] * kf.y;
        }
      } else {
        for (int d = 0; d < hd; ++d) dot += q[d] * kv_load(kc + ro + d);
      }
      s = dot * scale;
      if (a.softcap > 0.0f) s = a.softcap * tanhf(s / a.softcap);
    }
    const float m_new = fmaxf(m, block_max(s));
    const float p = j <= pos ? __expf(s - m_new) : 0.0f;
    const float corr = __expf(m - m_new);
    l = l * corr + block_sum(p);
    w[tid] = p;
    __syncthreads();
    const int n_keys = pos - c0 + 1 < kThreads ? pos - c0 + 1 : kThreads;
#pragma unroll
    for (int i = 0; i < kMaxDimsPerThread; ++i) {
      const int d = tid + i * kThreads;
      if (d < hd) {
        float sv[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
        int jj = 0;
        for (; jj + 8 <= n_keys; jj += 8) {  // eight independent loads in flight
#pragma unroll
          for (int u = 0; u < 8; ++u) sv[u] += w[jj + u] * kv_load(vc + rowoff[jj + u] + d);
        }
        for (; jj < n_keys; ++jj) sv[0] += w[jj] * kv_load(vc + rowoff[jj] + d);
        acc[i] = acc[i] * corr + (((sv[0] + sv[1]) + (sv[2] + sv[3])) + ((sv[4] + sv[5]) + (sv[6] + sv[7])));
      }
    }
    m = m_new;
    __syncthreads();
  }
  float* ot = a.out + (static_cast<int64_t>(t) * a.n_head + h) * hd;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
#pragma unroll
  for (int i = 0; i < kMaxDimsPerThread; ++i) {
    const int d = tid + i * kThreads;
    if (d < hd) {  // with out_q8, hd % 32 == 0: whole warps
      ot[d] = acc[i] * inv;
      if (a.out_q8.q) quantize_chunk_warp(acc[i] * inv, a.out_q8, t, (static_cast<int64_t>(h) * hd + d) / 32);
    }
  }
}

}  // namespace

void attention(const AttentionArgs& a, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  if (a.head_dim > kAttentionMaxHeadDim || a.head_dim <= 0 || a.n_kv_head <= 0 || a.n_head % a.n_kv_head != 0) {
    ::quarrel::fail(::quarrel::ErrorCode::kUnsupported, "cuda attention: head size {} with {} heads / {} KV heads",
                    a.head_dim, a.n_head, a.n_kv_head);
  }
  if (a.out_q8.q && a.head_dim % 32 != 0) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "cuda attention: q8 output with head size {}", a.head_dim);
  }
  const float scale = a.scale > 0.0f ? a.scale : 1.0f / sqrtf(static_cast<float>(a.head_dim));
  const dim3 grid(static_cast<unsigned>(a.n_head), static_cast<unsigned>(a.n_tokens));
  with_kv_type(a.kv_type, [&](auto kv) { launch(attention_kernel<decltype(kv)>, grid, kThreads, 0, s, a, scale); });
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
