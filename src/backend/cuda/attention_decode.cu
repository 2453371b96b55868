// Decode attention split over the sequence: see attention_decode.h.
#include "backend/cuda/attention_decode.h"

#include <cooperative_groups.h>

#include <algorithm>
#include <cfloat>
#include <cstdlib>
#include <type_traits>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/env_knob.h"
#include "backend/cuda/kv_elem.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/q8_act.cuh"
#include "backend/cuda/reduce.cuh"

namespace quarrel::cuda {
namespace {

namespace cg = cooperative_groups;

constexpr int kMaxHeadDim = 256;

// How the work is cut: W warps per block, U keys per warp whose loads are in flight together, the
// keys in S slices (S > 1: the S blocks of a (KV head, token) are a thread-block cluster that
// merges through distributed shared memory), and a block per query head (kOneHead) or per KV
// head (its whole group of query heads).
template <int W, int U, int S, bool H1>
struct Cut {
  static constexpr int kWarps = W, kUnroll = U, kSplits = S;
  static constexpr bool kOneHead = H1;
};
using SplitCut = Cut<4, 4, kDecodeSplits, false>;  // any context
// Short contexts: no cluster; 16 warps of 4 keys, so 64 keys are loaded before the PDL wait and a
// longer context takes one more pass per 64 keys. 8 keys per warp (all 128 at once) took 127
// registers, so a block filled an SM's register file and could not start beside the matvec
// blocks; 4 take 86 (H100, tg128 from an empty context, alternating twice: 8B Q4_K_M 454.2 /
// 454.3 -> 463.2 / 463.7 tok/s, 1B 1694.9 / 1688.8 -> 1727.5 / 1720.5; 2 keys per warp 460.5 /
// 459.9, 8 warps of 8 or of 4 keys 436.0 / 439.5).
using ShortCut = Cut<16, 4, 1, true>;
// The same for heads of 129-256 dimensions (Gemma's 256): 2 keys per warp, so a lane holds as many
// K/V values (2 keys x 4 pairs) as ShortCut's (4 x 2); 32 keys before the wait, a pass per 32 after.
using ShortCutWide = Cut<16, 2, 1, true>;

// GMAX: query heads per block rounded up (runtime <= GMAX); P: element pairs per lane
// (dimension 2 lane + 64 i for i < P); KV: the cache's element type (f16 or fp8 e4m3); CUT: Cut.
template <int GMAX, int P, typename KV, typename CUT>
__global__ void __launch_bounds__(32 * CUT::kWarps) attention_decode_kernel(AttentionArgs a, float scale) {
  constexpr int kWarps = CUT::kWarps, kThreads = 32 * kWarps, kUnroll = CUT::kUnroll, kSplits = CUT::kSplits;
  constexpr int kHd = 64 * P;  // head dimensions a block keeps per query head
  pdl_trigger();
  const int G = a.n_head / a.n_kv_head;
  // Query heads h0 .. h0 + GB - 1 of KV head kvh.
  const int kvh = CUT::kOneHead ? static_cast<int>(blockIdx.x) / G : static_cast<int>(blockIdx.x);
  const int h0 = CUT::kOneHead ? static_cast<int>(blockIdx.x) : kvh * G, GB = CUT::kOneHead ? 1 : G;
  // With a block per query head, the group's first stores the step's new key and value.
  const bool stores = !CUT::kOneHead || h0 == kvh * G;
  const int t = blockIdx.y, split = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int hd = a.head_dim;
  // The batch's metadata and the keys more than n_tokens positions back (a batch holds at most
  // n_tokens positions of one sequence, so earlier steps wrote them) do not depend on the kernels
  // before this one: they are read before waiting on them.
  const int pos = a.positions[t];
  const int lo = a.sliding_window > 0 && pos - a.sliding_window + 1 > 0 ? pos - a.sliding_window + 1 : 0;
  const int n_keys = pos - lo + 1;
  const int per = (n_keys + kSplits - 1) / kSplits;
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
      if (stores) {
        KV* kd = const_cast<KV*>(kc) + dst + d;
        KV* vd = const_cast<KV*>(vc) + dst + d;
        kv_store(kd, kk.x), kv_store(kd + 1, kk.y), kv_store(vd, vv.x), kv_store(vd + 1, vv.y);
      }
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
  // q (and the step's own keys next) come from the kernel before: q's loads are issued first, so
  // they are in flight with the new key's instead of after its cache stores.
  float2 q[GMAX][P];
  float m[GMAX], l[GMAX];
  float2 acc[GMAX][P];
#pragma unroll
  for (int g = 0; g < GMAX; ++g) {
    m[g] = -FLT_MAX, l[g] = 0.0f;
    const float* qh = a.q + (static_cast<int64_t>(t) * a.n_head + h0 + min(g, GB - 1)) * hd;
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
    if (a.softcap > 0.0f) {  // q was scaled: the scores are scaled already
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
        for (int g = 0; g < GMAX; ++g) sc[u][g] = a.softcap * tanhf(sc[u][g] / a.softcap);
      }
    }
    // Online softmax over the group at once.
#pragma unroll
    for (int g = 0; g < GMAX; ++g) {
      if (g >= GB) break;
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
  __shared__ float sm_acc[kWarps][GMAX][kHd];
  __shared__ float part_m[GMAX], part_l[GMAX], part_o[GMAX][kHd];
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
  for (int e = threadIdx.x; e < GB * hd; e += kThreads) {
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
  // The splits merge: block `split` writes the outputs e = 32 (split + kSplits i) + lane of the
  // GB * hd (whole warps per 32-element chunk). S > 1: the partials of the cluster's blocks, read
  // through distributed shared memory.
  cg::cluster_group cluster = cg::this_cluster();
  if constexpr (kSplits > 1) {
    cluster.sync();
  } else {
    __syncthreads();
  }
  const int rank = kSplits > 1 ? static_cast<int>(cluster.block_rank()) : 0;
  for (int e = 32 * (rank + kSplits * warp) + lane; e - lane < GB * hd; e += 32 * kSplits * kWarps) {
    // with out_q8, hd % 32 == 0: a warp's 32 elements are one chunk of one head
    const bool in = e < GB * hd;
    const int g = in ? e / hd : 0, d = in ? e % hd : 0;
    float ms[kSplits], ls[kSplits], os[kSplits];
#pragma unroll
    for (int sp = 0; sp < kSplits; ++sp) {  // every remote load issued before any is used
      if constexpr (kSplits > 1) {
        ms[sp] = cluster.map_shared_rank(part_m, sp)[g];
        ls[sp] = cluster.map_shared_rank(part_l, sp)[g];
        os[sp] = cluster.map_shared_rank(&part_o[0][0], sp)[g * kHd + d];
      } else {
        ms[sp] = part_m[g], ls[sp] = part_l[g], os[sp] = part_o[g][d];
      }
    }
    float mx = -FLT_MAX;
#pragma unroll
    for (int sp = 0; sp < kSplits; ++sp) mx = fmaxf(mx, ms[sp]);
    float sum = 0.0f, o = 0.0f;
#pragma unroll
    for (int sp = 0; sp < kSplits; ++sp) {
      const float f = __expf(ms[sp] - mx);
      sum += ls[sp] * f;
      o += os[sp] * f;
    }
    const float v = sum > 0.0f ? o / sum : 0.0f;
    const int64_t col = static_cast<int64_t>(h0 + g) * hd + d;
    if (in) a.out[static_cast<int64_t>(t) * a.n_head * hd + col] = v;
    if (a.out_q8.q && in) quantize_chunk_warp(v, a.out_q8, t, col / 32);
  }
  if constexpr (kSplits > 1) cluster.sync();  // no block leaves while another reads its shared memory
}

template <int GMAX, int P, typename KV>
void launch_p(const AttentionArgs& a, float scale, cudaStream_t s) {
  if (short_context(a.max_keys, a.head_dim)) {  // a block per query head, no cluster
    using Short = std::conditional_t<P <= 2, ShortCut, ShortCutWide>;
    const dim3 grid(static_cast<unsigned>(a.n_head), static_cast<unsigned>(a.n_tokens), 1);
    launch(attention_decode_kernel<1, P, KV, Short>, grid, 32 * Short::kWarps, 0, s, a, scale);
    return;
  }
  static const bool allowed = [] {  // clusters of 16 blocks: past the portable size of 8
    QUARREL_CUDA_CHECK(cudaFuncSetAttribute(attention_decode_kernel<GMAX, P, KV, SplitCut>,
                                            cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
    return true;
  }();
  (void)allowed;
  const dim3 grid(static_cast<unsigned>(a.n_kv_head), static_cast<unsigned>(a.n_tokens), kDecodeSplits);
  launch_cluster(attention_decode_kernel<GMAX, P, KV, SplitCut>, grid, 32 * SplitCut::kWarps, dim3(1, 1, kDecodeSplits),
                 0, s, a, scale);
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

int short_context_keys() {
  static const int keys = static_cast<int>(std::max<int64_t>(0, env_int("QUARREL_CUDA_SHORT_ATTENTION", kShortContextKeys)));
  return keys;
}

bool short_context(int max_keys, int head_dim) {
  return max_keys > 0 && max_keys <= short_context_keys() && head_dim <= kMaxHeadDim;
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
