// Decode attention split over the sequence: see attention_decode.h.
#include "backend/cuda/attention_decode.h"

#include <cooperative_groups.h>

#include <cfloat>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kv_elem.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kMaxHeadDim = 256;
constexpr int kUnroll = 4;  // keys per warp whose loads are in flight together

// GMAX: query heads per KV head rounded up (runtime G <= GMAX); P: element pairs per lane
// (dimension 2 lane + 64 i for i < P); KV: the cache's element type (f16 or fp8 e4m3).
// The kDecodeSplits blocks of one (KV head, token) form a thread-block cluster.
template <int GMAX, int P, typename KV>
__global__ void __launch_bounds__(kThreads) attention_decode_kernel(AttentionArgs a, float scale) {
  const int kvh = blockIdx.x, t = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int hd = a.head_dim, G = a.n_head / a.n_kv_head;
  // The batch's metadata and the keys more than n_tokens positions back (a batch holds at most
  // n_tokens positions of one sequence, so earlier steps wrote them) do not depend on the kernels
  // before this one: they are read before waiting on them.
  const int pos = a.positions[t];
  const int lo = a.sliding_window > 0 && pos - a.sliding_window + 1 > 0 ? pos - a.sliding_window + 1 : 0;
  const int n_keys = pos - lo + 1;
  const int per = (n_keys + kDecodeSplits - 1) / kDecodeSplits;
  const int j0 = lo + split * per, j1 = min(pos + 1, j0 + per);
  // Keys <= j_old were written by earlier steps; fused (k_new), only the token's own is not.
  const int j_old = a.k_new ? pos - 1 : pos - a.n_tokens;
  const int32_t* bt = a.block_tables + a.bt_offset[t];
  auto row = [&](int j) {
    const int64_t blk = bt[j / a.block_size];
    return ((blk * a.n_kv_head + kvh) * a.block_size + j % a.block_size) * hd;
  };
  const KV* kc = static_cast<const KV*>(a.k_cache);
  const KV* vc = static_cast<const KV*>(a.v_cache);
  // Keys in groups of kUnroll per warp: a group's block-table and K/V loads are issued before
  // its arithmetic, so a warp has kUnroll keys in flight (not one). `mine(j)` picks the keys to load.
  float2 kf[kUnroll][P], vf[kUnroll][P];
  // Fused (k_new): the token's own key and value (after the wait: the kernels before wrote
  // them), k rotated, both stored into the cache and used as it keeps them.
  const float* cs = a.k_new ? a.cos_sin + static_cast<int64_t>(t) * a.n_dims : nullptr;  // this token's
  auto new_key = [&](int u) {
    const int64_t src = (static_cast<int64_t>(t) * a.n_kv_head + kvh) * hd, dst = row(pos);
#pragma unroll
    for (int i = 0; i < P; ++i) {
      const int d = 2 * lane + 64 * i;
      if (d >= hd) {  // past the head (head_dim < 64 P): zeros, as load_group gives
        kf[u][i] = vf[u][i] = make_float2(0.0f, 0.0f);
        continue;
      }
      float2 kk = make_float2(a.k_new[src + d], a.k_new[src + d + 1]);
      if (d < a.n_dims) kk = rope_pair(kk.x, kk.y, cs[d], cs[d + 1]);
      const float2 vv = make_float2(a.v_new[src + d], a.v_new[src + d + 1]);
      KV* kd = const_cast<KV*>(kc) + dst + d;
      KV* vd = const_cast<KV*>(vc) + dst + d;
      kv_store(kd, kk.x), kv_store(kd + 1, kk.y), kv_store(vd, vv.x), kv_store(vd + 1, vv.y);
      kf[u][i] = make_float2(kv_round<KV>(kk.x), kv_round<KV>(kk.y));
      vf[u][i] = make_float2(kv_round<KV>(vv.x), kv_round<KV>(vv.y));
    }
  };
  auto load_group = [&](int jb, auto mine) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int j = jb + u * kWarps;
      if (j >= j1 || !mine(j)) continue;
      if (a.k_new && j == pos) {
        new_key(u);
        continue;
      }
      const int64_t ro = row(j);
#pragma unroll
      for (int i = 0; i < P; ++i) {
        const int d = 2 * lane + 64 * i;
        kf[u][i] = d < hd ? kv_load2(kc + ro + d) : make_float2(0.0f, 0.0f);
        vf[u][i] = d < hd ? kv_load2(vc + ro + d) : make_float2(0.0f, 0.0f);
      }
    }
  };
  int jb = j0 + warp;
  load_group(jb, [&](int j) { return j <= j_old; });
  pdl_wait();
  pdl_trigger();
  // q (and the step's own keys next) come from the kernel before: q's loads are issued first, so
  // they are in flight with the new key's instead of after its cache stores.
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
      q[g][i] = d < hd ? make_float2(qh[d], qh[d + 1]) : make_float2(0.0f, 0.0f);
      acc[g][i] = make_float2(0.0f, 0.0f);
    }
  }
  load_group(jb, [&](int j) { return j > j_old; });
#pragma unroll
  for (int g = 0; g < GMAX; ++g) {  // fused: q rotated here; then scaled
#pragma unroll
    for (int i = 0; i < P; ++i) {
      const int d = 2 * lane + 64 * i;
      if (a.k_new && d < a.n_dims) q[g][i] = rope_pair(q[g][i].x, q[g][i].y, cs[d], cs[d + 1]);
      q[g][i] = make_float2(q[g][i].x * scale, q[g][i].y * scale);
    }
  }

  while (jb < j1) {
    // Scores of the group's keys for every query head: the partial dots, then one butterfly
    // for all of them (independent shuffles in flight together, not a chain per key and head).
    const int nv = min(kUnroll, (j1 - jb + kWarps - 1) / kWarps);  // valid keys in the group
    float sc[kUnroll][GMAX];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int g = 0; g < GMAX; ++g) {
        float d = 0.0f;
#pragma unroll
        for (int i = 0; i < P; ++i) d += q[g][i].x * kf[u][i].x + q[g][i].y * kf[u][i].y;
        sc[u][g] = d;
      }
    }
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) {
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int g = 0; g < GMAX; ++g) sc[u][g] += __shfl_xor_sync(0xffffffffu, sc[u][g], off);
      }
    }
    // Online softmax over the group at once.
#pragma unroll
    for (int g = 0; g < GMAX; ++g) {
      if (g >= G) break;
      float m_new = m[g];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) m_new = u < nv ? fmaxf(m_new, sc[u][g]) : m_new;
      const float corr = __expf(m[g] - m_new);
      l[g] *= corr;
#pragma unroll
      for (int i = 0; i < P; ++i) acc[g][i].x *= corr, acc[g][i].y *= corr;
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        if (u >= nv) break;  // past the slice: kf / vf hold nothing loaded
        const float p = __expf(sc[u][g] - m_new);
        l[g] += p;
#pragma unroll
        for (int i = 0; i < P; ++i) {
          acc[g][i].x += p * vf[u][i].x;
          acc[g][i].y += p * vf[u][i].y;
        }
      }
      m[g] = m_new;
    }
    jb += kWarps * kUnroll;
    load_group(jb, [](int) { return true; });
  }

  // Merge the warps: per query head, max, rescaled sums and outputs: the block's partial.
  __shared__ float sm_m[kWarps][GMAX], sm_l[kWarps][GMAX];
  __shared__ float sm_acc[kWarps][GMAX][kMaxHeadDim];
  __shared__ float part_m[GMAX], part_l[GMAX], part_o[GMAX][kMaxHeadDim];
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
    if (d == 0) part_m[g] = mx, part_l[g] = sum;
    part_o[g][d] = o;
  }
  // The splits merge through distributed shared memory: block `split` of the cluster writes the
  // outputs e = 32 (split + kDecodeSplits i) + lane of the G * hd (whole warps per 32-element chunk).
  cg::cluster_group cluster = cg::this_cluster();
  cluster.sync();
  const int rank = static_cast<int>(cluster.block_rank());
  for (int e = 32 * (rank + kDecodeSplits * warp) + lane; e - lane < G * hd; e += 32 * kDecodeSplits * kWarps) {
    // with out_q8, hd % 32 == 0: a warp's 32 elements are one chunk of one head
    const bool in = e < G * hd;
    const int g = in ? e / hd : 0, d = in ? e % hd : 0;
    float ms[kDecodeSplits], ls[kDecodeSplits], os[kDecodeSplits];
#pragma unroll
    for (int sp = 0; sp < kDecodeSplits; ++sp) {  // every remote load issued before any is used
      ms[sp] = cluster.map_shared_rank(part_m, sp)[g];
      ls[sp] = cluster.map_shared_rank(part_l, sp)[g];
      os[sp] = cluster.map_shared_rank(&part_o[0][0], sp)[g * kMaxHeadDim + d];
    }
    float mx = -FLT_MAX;
#pragma unroll
    for (int sp = 0; sp < kDecodeSplits; ++sp) mx = fmaxf(mx, ms[sp]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int sp = 0; sp < kDecodeSplits; ++sp) {
      const float f = __expf(ms[sp] - mx);
      sum += ls[sp] * f;
      o += os[sp] * f;
    }
    const float v = sum > 0.0f ? o / sum : 0.0f;
    const int64_t col = (static_cast<int64_t>(kvh) * G + g) * hd + d;
    if (in) a.out[static_cast<int64_t>(t) * a.n_head * hd + col] = v;
    if (a.out_q8.q && in) quantize_chunk_warp(v, a.out_q8, t, col / 32);
  }
  cluster.sync();  // no block leaves while another reads its shared memory
}

template <int GMAX, int P, typename KV>
void launch_p(const AttentionArgs& a, float scale, cudaStream_t s) {
  static const bool allowed = [] {  // clusters of 16 blocks: past the portable size of 8
    QUARREL_CUDA_CHECK(cudaFuncSetAttribute(attention_decode_kernel<GMAX, P, KV>,
                                            cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    return true;
  }();
  (void)allowed;
  const dim3 grid(static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(a.n_tokens), kDecodeSplits);
  launch_cluster(attention_decode_kernel<GMAX, P, KV>, grid, kThreads, dim3(1, 1, kDecodeSplits), 0, s, a, scale);
}

template <int GMAX, typename KV>
void launch_g(const AttentionArgs& a, float scale, cudaStream_t s) {
  if (a.head_dim <= 64) {
    launch_p<GMAX, 1, KV>(a, scale, s);
  } else if (a.head_dim <= 128) {
    launch_p<GMAX, 2, KV>(a, scale, s);
  } else {
    launch_p<GMAX, 4, KV>(a, scale, s);
  }
}

}  // namespace

bool attention_decode_takes(const AttentionArgs& a) {
  return a.head_dim > 0 && a.head_dim % 2 == 0 && a.head_dim <= kMaxHeadDim && a.n_kv_head > 0 &&
         a.n_head % a.n_kv_head == 0 && a.n_head / a.n_kv_head <= 8 && (!a.out_q8.q || a.head_dim % 32 == 0);
}

void attention_decode(const AttentionArgs& a, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  if (!attention_decode_takes(a)) {
    if (a.k_new) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "attention_decode: fused RoPE with unsupported heads");
    attention(a, s);
    return;
  }
  const float scale = a.scale > 0.0f ? a.scale : 1.0f / sqrtf(static_cast<float>(a.head_dim));
  const int g = a.n_head / a.n_kv_head;
  with_kv_type(a.kv_type, [&](auto kv) {
    using KV = decltype(kv);
    if (g == 1) {
      launch_g<1, KV>(a, scale, s);
    } else if (g == 2) {
      launch_g<2, KV>(a, scale, s);
    } else if (g <= 4) {
      launch_g<4, KV>(a, scale, s);
    } else {
      launch_g<8, KV>(a, scale, s);
    }
  });
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
