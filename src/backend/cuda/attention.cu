// Paged attention for decode and prefill alike: one block per (query head, token), keys taken
// 128 at a time through the token's block table with an online softmax in f32; each thread
// scores one key of a chunk, then accumulates its head dimensions (d = tid, tid + 128, ...)
// over the chunk's weights. Causal, optional sliding window.
#include <cuda_fp16.h>

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 128;
constexpr int kMaxDimsPerThread = kAttentionMaxHeadDim / kThreads;

__global__ void __launch_bounds__(kThreads) attention_kernel(AttentionArgs a, float scale) {
  pdl_wait();
  pdl_trigger();
  const int h = blockIdx.x, t = blockIdx.y, tid = threadIdx.x;
  const int hd = a.head_dim;
  const int g = h / (a.n_head / a.n_kv_head);
  __shared__ float q[kAttentionMaxHeadDim];
  __shared__ float w[kThreads];
  const float* qt = a.q + (static_cast<int64_t>(t) * a.n_head + h) * hd;
  for (int d = tid; d < hd; d += kThreads) q[d] = qt[d];
  __syncthreads();

  const int pos = a.positions[t];
  const int lo = a.sliding_window > 0 && pos - a.sliding_window + 1 > 0 ? pos - a.sliding_window + 1 : 0;
  const int32_t* bt = a.block_tables + a.bt_offset[t];
  const __half* kc = static_cast<const __half*>(a.k_cache);
  const __half* vc = static_cast<const __half*>(a.v_cache);
  auto row = [&](int j) {
    const int64_t blk = bt[j / a.block_size];
    return ((blk * a.n_kv_head + g) * a.block_size + j % a.block_size) * hd;
  };

  __shared__ int64_t rowoff[kThreads];  // cache element offset of each key row of the chunk
  float m = -FLT_MAX, l = 0.0f;
  float acc[kMaxDimsPerThread];
#pragma unroll
  for (int i = 0; i < kMaxDimsPerThread; ++i) acc[i] = 0.0f;

  for (int c0 = lo; c0 <= pos; c0 += kThreads) {
    const int j = c0 + tid;
    float s = -FLT_MAX;
    if (j <= pos) {
      const int64_t ro = row(j);
      rowoff[tid] = ro;
      const __half2* kr = reinterpret_cast<const __half2*>(kc + ro);
      float dot = 0.0f;
      if ((hd & 1) == 0) {
#pragma unroll 8
        for (int d = 0; d < hd / 2; ++d) {
          const float2 kf = __half22float2(kr[d]);
          dot += q[2 * d] * kf.x + q[2 * d + 1] * kf.y;
        }
      } else {
        for (int d = 0; d < hd; ++d) dot += q[d] * __half2float(kc[ro + d]);
      }
      s = dot * scale;
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
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        int jj = 0;
        for (; jj + 4 <= n_keys; jj += 4) {  // four independent loads in flight
          s0 += w[jj] * __half2float(vc[rowoff[jj] + d]);
          s1 += w[jj + 1] * __half2float(vc[rowoff[jj + 1] + d]);
          s2 += w[jj + 2] * __half2float(vc[rowoff[jj + 2] + d]);
          s3 += w[jj + 3] * __half2float(vc[rowoff[jj + 3] + d]);
        }
        for (; jj < n_keys; ++jj) s0 += w[jj] * __half2float(vc[rowoff[jj] + d]);
        acc[i] = acc[i] * corr + ((s0 + s1) + (s2 + s3));
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
  launch(attention_kernel, dim3(static_cast<unsigned>(a.n_head), static_cast<unsigned>(a.n_tokens)), kThreads, 0, s, a, scale);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
