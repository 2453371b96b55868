// Decode attention split over the sequence: see attention_decode.h.
#include "backend/cuda/attention_decode.h"

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kv_elem.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxHeadDim = 256;
constexpr int kUnroll = 4;  // keys per warp whose loads are in flight together

// GMAX: query heads per KV head rounded up (runtime G <= GMAX); P: element pairs per lane
// (dimension 2 lane + 64 i for i < P); KV: the cache's element type (f16 or fp8 e4m3).
template <int GMAX, int P, typename KV>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(AttentionArgs a, float scale, float* part,
                                                                    int* counters) {
  const int kvh = blockIdx.x, t = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int hd = a.head_dim, G = a.n_head / a.n_kv_head;
  const int pos = a.positions[t];
  const int lo = a.sliding_window > 0 && pos - a.sliding_window + 1 > 0 ? pos - a.sliding_window + 1 : 0;
  const int n_keys = pos - lo + 1;
  const int per = (n_keys + kDecodeSplits - 1) / kDecodeSplits;
  const int j0 = lo + split * per, j1 = min(pos + 1, j0 + per);
  const int32_t* bt = a.block_tables + a.bt_offset[t];
  auto row = [&](int j) {
    const int64_t blk = bt[j / a.block_size];
    return ((blk * a.n_kv_head + kvh) * a.block_size + j % a.block_size) * hd;
  };
  pdl_wait();
  pdl_trigger();

  float2 q[GMAX][P];
  float m[GMAX], l[GMAX];
  float2 acc[GMAX][P];
#pragma unroll
  for (int g = 0; g < GMAX; ++g) {
    m[g] = -FLT_MAX, l[g] = 0.0f;
    const float* qh = a.q + (static_cast<int64_t>(t) * a.n_head + kvh * G + min(g, G - 1)) * hd;
#pragma unroll
    for (int i = 0; i < P; ++i) {
      const int d = 2 * lane + 64 * i;
      q[g][i] = d < hd ? make_float2(qh[d] * scale, qh[d + 1] * scale) : make_float2(0.0f, 0.0f);
      acc[g][i] = make_float2(0.0f, 0.0f);
    }
  }
  const KV* kc = static_cast<const KV*>(a.k_cache);
  const KV* vc = static_cast<const KV*>(a.v_cache);
  // Keys in groups of kUnroll per warp: every group's block-table and K/V loads are issued
  // before its arithmetic, so a warp has kUnroll keys in flight (not one).
  for (int jb = j0 + warp; jb < j1; jb += kWarps * kUnroll) {
    float2 kf[kUnroll][P], vf[kUnroll][P];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = jb + u * kWarps;
      const int64_t ro = j < j1 ? row(j) : 0;
#pragma unroll
      for (int i = 0; i < P; ++i) {
        const int d = 2 * lane + 64 * i;
        const bool in = j < j1 && d < hd;
        kf[u][i] = in ? kv_load2(kc + ro + d) : make_float2(0.0f, 0.0f);
        vf[u][i] = in ? kv_load2(vc + ro + d) : make_float2(0.0f, 0.0f);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (jb + u * kWarps >= j1) break;
#pragma unroll
      for (int g = 0; g < GMAX; ++g) {
        if (g >= G) break;
        float s = 0.0f;
#pragma unroll
        for (int i = 0; i < P; ++i) s += q[g][i].x * kf[u][i].x + q[g][i].y * kf[u][i].y;
        s = warp_sum(s);
        const float m_new = fmaxf(m[g], s);
        const float corr = __expf(m[g] - m_new), p = __expf(s - m_new);
        l[g] = l[g] * corr + p;
#pragma unroll
        for (int i = 0; i < P; ++i) {
          acc[g][i].x = acc[g][i].x * corr + p * vf[u][i].x;
          acc[g][i].y = acc[g][i].y * corr + p * vf[u][i].y;
        }
        m[g] = m_new;
      }
    }
  }

  // Merge the warps: per query head, max, rescaled sums and outputs.
  __shared__ float sm_m[kWarps][GMAX], sm_l[kWarps][GMAX];
  __shared__ float sm_acc[kWarps][GMAX][kMaxHeadDim];
#pragma unroll
  for (int g = 0; g < GMAX; ++g) {
    if (lane == 0) sm_m[warp][g] = m[g], sm_l[warp][g] = l[g];
#pragma unroll
    for (int i = 0; i < P; ++i) {
      const int d = 2 * lane + 64 * i;
      if (d < hd) sm_acc[warp][g][d] = acc[g][i].x, sm_acc[warp][g][d + 1] = acc[g][i].y;
    }
  }
  __syncthreads();
  const int stride = hd + 2;  // a partial: max, sum, hd outputs
  for (int e = threadIdx.x; e < G * hd; e += kThreads) {
    const int g = e / hd, d = e % hd;
    float mx = -FLT_MAX;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, sm_m[w][g]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) {
      const float f = __expf(sm_m[w][g] - mx);
      sum += sm_l[w][g] * f;
      o += sm_acc[w][g][d] * f;
    }
    float* pp = part + ((static_cast<int64_t>(t) * a.n_head + kvh * G + g) * kDecodeSplits + split) * stride;
    if (d == 0) pp[0] = mx, pp[1] = sum;
    pp[2 + d] = o;
  }
  __threadfence();
  __syncthreads();
  __shared__ bool last;
  if (threadIdx.x == 0) last = atomicAdd(&counters[t * a.n_kv_head + kvh], 1) == kDecodeSplits - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  // The last block merges the splits (L1 bypassed: other SMs wrote the partials).
  for (int e = threadIdx.x; e < G * hd; e += kThreads) {  // with out_q8, hd % 32 == 0: whole warps
    const int g = e / hd, d = e % hd;
    const float* pp = part + (static_cast<int64_t>(t) * a.n_head + kvh * G + g) * kDecodeSplits * stride;
    float mx = -FLT_MAX;
    for (int sp = 0; sp < kDecodeSplits; ++sp) mx = fmaxf(mx, __ldcg(pp + sp * stride));
    float sum = 0.0f, o = 0.0f;
    for (int sp = 0; sp < kDecodeSplits; ++sp) {
      const float f = __expf(__ldcg(pp + sp * stride) - mx);
      sum += __ldcg(pp + sp * stride + 1) * f;
      o += __ldcg(pp + sp * stride + 2 + d) * f;
    }
    const float v = sum > 0.0f ? o / sum : 0.0f;
    const int64_t col = (static_cast<int64_t>(kvh) * G + g) * hd + d;
    a.out[static_cast<int64_t>(t) * a.n_head * hd + col] = v;
    if (a.out_q8.q) quantize_chunk_warp(v, a.out_q8, t, col / 32);
  }
  if (threadIdx.x == 0) counters[t * a.n_kv_head + kvh] = 0;
}

template <int GMAX, typename KV>
void launch_g(const AttentionArgs& a, float scale, float* scratch, int* counters, cudaStream_t s) {
  const dim3 grid(static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(a.n_tokens), kDecodeSplits);
  if (a.head_dim <= 64) {
    launch(attention_decode_kernel<GMAX, 1, KV>, grid, kThreads, 0, s, a, scale, scratch, counters);
  } else if (a.head_dim <= 128) {
    launch(attention_decode_kernel<GMAX, 2, KV>, grid, kThreads, 0, s, a, scale, scratch, counters);
  } else {
    launch(attention_decode_kernel<GMAX, 4, KV>, grid, kThreads, 0, s, a, scale, scratch, counters);
  }
}

}  // namespace

bool attention_decode_supported(int head_dim, int n_head, int n_kv_head) {
  return head_dim > 0 && head_dim % 2 == 0 && head_dim <= kMaxHeadDim && n_kv_head > 0 && n_head % n_kv_head == 0 &&
         n_head / n_kv_head <= 8;
}

size_t attention_decode_scratch_floats(int n_tokens, int n_head, int head_dim) {
  return static_cast<size_t>(n_tokens) * static_cast<size_t>(n_head) * kDecodeSplits * static_cast<size_t>(head_dim + 2);
}

size_t attention_decode_counters(int n_tokens, int n_kv_head) {
  return static_cast<size_t>(n_tokens) * static_cast<size_t>(n_kv_head);
}

void attention_decode(const AttentionArgs& a, float* scratch, int* counters, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  if (!attention_decode_supported(a.head_dim, a.n_head, a.n_kv_head) || (a.out_q8.q && a.head_dim % 32 != 0)) {
    attention(a, s);
    return;
  }
  const float scale = a.scale > 0.0f ? a.scale : 1.0f / sqrtf(static_cast<float>(a.head_dim));
  const int g = a.n_head / a.n_kv_head;
  with_kv_type(a.kv_type, [&](auto kv) {
    using KV = decltype(kv);
    if (g == 1) {
      launch_g<1, KV>(a, scale, scratch, counters, s);
    } else if (g == 2) {
      launch_g<2, KV>(a, scale, scratch, counters, s);
    } else if (g <= 4) {
      launch_g<4, KV>(a, scale, scratch, counters, s);
    } else {
      launch_g<8, KV>(a, scale, scratch, counters, s);
    }
  });
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
