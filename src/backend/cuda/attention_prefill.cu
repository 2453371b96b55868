// Prefill attention on the tensor cores, FlashAttention-2 style, over the paged KV cache (f16 or
// fp8 e4m3 elements; the tensor cores always see f16).
//
// One block of 4 warps per (query tile, query head). A query tile is up to 64 consecutive batch
// tokens of one sequence (build_prefill_tiles); warp w owns query rows [16w, 16w + 16). The
// block walks key tiles of 64 keys from the smallest lo to the largest pos of its rows, copying
// each tile's K and V rows through the block table into shared memory (f16, cp.async, double
// buffered: the next tile's copies fly while this one is computed). Per key tile each
// warp computes S = Q K^T (16 x 64, f32) with mma.sync m16n8k16, masks every row by its own
// [lo, pos], updates its online softmax (running max m and sum l per row, f32, base 2), turns
// P into f16 A fragments straight from the S accumulators (same register layout) and adds P V
// into its O accumulators (16 x head_dim, f32, in registers). At the end O / l is written as
// f32; a row with no keys writes 0.
//
// With an fp8 cache the K and V rows land (cp.async, 16 fp8 per copy, double buffered) in byte
// staging tiles; after its copies of a tile have landed each thread widens the same 16-byte
// chunks it copied to f16 (exact) in the one f16 K and V tile, and the block syncs before the
// unchanged mma path reads them.
//
// mma.sync.m16n8k16 fragments (PTX ISA), lane = 4 * grp + tig:
//   A (16 x 16, row major), 4 x b32: {A[grp][2tig..+1]}, {A[grp+8][2tig..+1]},
//                                    {A[grp][8+2tig..+1]}, {A[grp+8][8+2tig..+1]}
//   B (16 x 8, k x n), 2 x b32:      {B[2tig..+1][grp]}, {B[8+2tig..+1][grp]}
//   C (16 x 8, f32), 4 x f32:        C[grp][2tig], C[grp][2tig+1], C[grp+8][2tig], C[grp+8][2tig+1]
// (the lower half of a b32 holds the element of lower index).
// ldmatrix .x4 gives lane l row l / 4, columns 2 (l % 4), +1 of each of four 8 x 8 f16 matrices
// whose rows lanes 8i..8i+7 point at (with .trans: the transposed matrices'). On K [key][d] that
// is a B fragment of S's n-tile, on V [key][d] with .trans a B fragment of O's.
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>

#include "backend/cuda/attention_prefill.h"
#include "backend/cuda/cp_async.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kv_elem.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kTile = kPrefillTileTokens;  // query rows per tile, keys per key tile
constexpr int kWarps = kTile / 16;         // one warp per 16 query rows
constexpr int kThreads = kWarps * 32;
constexpr int kPad = 8;                    // halves of padding per shared row: 16-byte aligned rows, no bank conflicts
static_assert(kTile == 64, "the S fragments below hold 64 keys (8 n-tiles of 8)");

constexpr int kStagePad = 16;              // bytes of padding per fp8 staging row: 16-byte aligned rows

// Dynamic shared memory of one block. f16 cache: the Q tile and two K and two V tiles (double
// buffered), each [HD + kPad, kTile] f16. fp8 cache: the Q tile, one K and one V f16 tile, and
// two K and two V byte staging tiles [HD + kStagePad, kTile] (double buffered).
template <int HD, typename KV>
constexpr size_t smem_bytes() {
  constexpr bool f8 = sizeof(KV) == 1;
  return (f8 ? 3 : 5) * static_cast<size_t>(kTile) * (HD + kPad) * sizeof(__half) +
         (f8 ? 4 * static_cast<size_t>(kTile) * (HD + kStagePad) : 0);
}

// 16 fp8 e4m3 at src (shared, 16-byte aligned) -> 16 f16 at dst (shared, 16-byte aligned), exact.
__device__ __forceinline__ void widen16_fp8(const uint8_t* src, __half* dst) {
  const uint4 u = *reinterpret_cast<const uint4*>(src);
  const uint32_t w[4] = {u.x, u.y, u.z, u.w};
  uint32_t h[8];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    h[2 * i] = fp8x2_to_half2_bits(static_cast<uint16_t>(w[i] & 0xFFFFu));
    h[2 * i + 1] = fp8x2_to_half2_bits(static_cast<uint16_t>(w[i] >> 16));
  }
  reinterpret_cast<uint4*>(dst)[0] = make_uint4(h[0], h[1], h[2], h[3]);
  reinterpret_cast<uint4*>(dst)[1] = make_uint4(h[4], h[5], h[6], h[7]);
}

__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const __half* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t (&r)[4], const __half* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// Two adjacent halves (the first at the lower address) as one b32.
__device__ __forceinline__ uint32_t ld_b32(const __half* p) { return *reinterpret_cast<const uint32_t*>(p); }
// lo in the lower 16 bits.
__device__ __forceinline__ uint32_t pack_floats(float lo, float hi) {
  return static_cast<uint32_t>(__half_as_ushort(__float2half_rn(lo))) |
         (static_cast<uint32_t>(__half_as_ushort(__float2half_rn(hi))) << 16);
}

// grid (n_head, tiles of this launch); tiles [2 * n_tiles] = (first token, count) pairs; this
// launch does tiles [tile_base, tile_base + gridDim.y), the last (heaviest, in a prompt) first.
// q, out [HD, n_head, n_tokens] f32; caches [HD, block_size, n_kv_head, n_blocks] of KV (__half
// or __nv_fp8_e4m3).
template <int HD, typename KV>
__global__ void __launch_bounds__(kThreads) attention_prefill_kernel(AttentionArgs a, const int32_t* tiles,
                                                                     int tile_base, float scale_log2) {
  static_assert(HD % 16 == 0, "head_dim must be a multiple of 16");
  constexpr bool kF8 = sizeof(KV) == 1;
  constexpr int LD = HD + kPad;          // halves per shared row
  constexpr int SLD = HD + kStagePad;    // bytes per fp8 staging row
  constexpr int kF16Bufs = kF8 ? 1 : 2;  // f16 K/V tiles: double buffered, or one (fp8: the staging is)
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __half* qs = reinterpret_cast<__half*>(smem_raw);  // [LD, kTile]: query row r of the tile, f16
  __half* ks0 = qs + kTile * LD;                     // [LD, kTile, kF16Bufs]: key kb + j, buffer (kb - kmin) / kTile % 2
  __half* vs0 = ks0 + kF16Bufs * kTile * LD;         // [LD, kTile, kF16Bufs]: value kb + j, likewise
  // fp8 only: [SLD, kTile, 2] bytes each, the cache rows as copied (buffer (kb - kmin) / kTile % 2).
  uint8_t* kst0 = reinterpret_cast<uint8_t*>(vs0 + kF16Bufs * kTile * LD);
  uint8_t* vst0 = kst0 + 2 * kTile * SLD;
  __shared__ int pos_s[kTile], lo_s[kTile];          // per query row; rows past count: pos -1 (no keys)
  __shared__ int64_t key_row[2][kTile];              // cache element offset of key kb + j; -1: not loaded
  __shared__ int range_s[2];                         // smallest lo, largest pos of the tile

  const int h = static_cast<int>(blockIdx.x);
  const int tile = tile_base + static_cast<int>(gridDim.y) - 1 - static_cast<int>(blockIdx.y);
  const int t0 = tiles[2 * tile], cnt = tiles[2 * tile + 1];
  const int tid = static_cast<int>(threadIdx.x), warp = tid >> 5, lane = tid & 31;
  const int grp = lane >> 2, tig = lane & 3;
  const int kvh = h / (a.n_head / a.n_kv_head);

  if (tid < kTile) {
    int p = -1, lo = 0;
    if (tid < cnt) {
      p = a.positions[t0 + tid];
      lo = a.sliding_window > 0 && p - a.sliding_window + 1 > 0 ? p - a.sliding_window + 1 : 0;
    }
    pos_s[tid] = p;
    lo_s[tid] = lo;
  }
  // Q rows -> f16 (rows past cnt: zeros).
  for (int i = tid; i < kTile * (HD / 4); i += kThreads) {
    const int r = i / (HD / 4), c = (i % (HD / 4)) * 4;
    float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (r < cnt) v = *reinterpret_cast<const float4*>(a.q + (static_cast<int64_t>(t0 + r) * a.n_head + h) * HD + c);
    __half2* dst = reinterpret_cast<__half2*>(qs + r * LD + c);
    dst[0] = __floats2half2_rn(v.x, v.y);
    dst[1] = __floats2half2_rn(v.z, v.w);
  }
  __syncthreads();
  if (warp == 0) {
    int kmin = INT32_MAX, kmax = -1;
    for (int r = lane; r < cnt; r += 32) {
      kmin = min(kmin, lo_s[r]);
      kmax = max(kmax, pos_s[r]);
    }
    kmin = __reduce_min_sync(0xffffffffu, kmin);
    kmax = __reduce_max_sync(0xffffffffu, kmax);
    if (lane == 0) range_s[0] = kmin, range_s[1] = kmax;
  }
  // This thread's two query rows (grp and grp + 8 of its warp's 16), and its warp's key range.
  const int r0 = warp * 16 + grp, r1 = r0 + 8;
  const int pos0 = pos_s[r0], lo0 = lo_s[r0], pos1 = pos_s[r1], lo1 = lo_s[r1];
  int wmin = INT32_MAX, wmax = -1;
  if (pos_s[warp * 16 + (lane & 15)] >= 0) wmin = lo_s[warp * 16 + (lane & 15)], wmax = pos_s[warp * 16 + (lane & 15)];
  wmin = __reduce_min_sync(0xffffffffu, wmin);
  wmax = __reduce_max_sync(0xffffffffu, wmax);
  __syncthreads();
  const int kmin = range_s[0], kmax = range_s[1];

  const int32_t* bt = a.block_tables + a.bt_offset[t0];
  const KV* kc = static_cast<const KV*>(a.k_cache);
  const KV* vc = static_cast<const KV*>(a.v_cache);
  const bool windowed = a.sliding_window > 0;
  // A raw q.k to a base-2 score: scaled, soft-capped when the model caps its scores.
  const float cap = a.softcap, cap_in = scale_log2 * 0.6931471805599453f / (cap > 0.0f ? cap : 1.0f);
  const float cap_out = cap * 1.4426950408889634f;
  const auto score = [&](float raw) { return cap > 0.0f ? cap_out * tanhf(raw * cap_in) : raw * scale_log2; };

  float o[HD / 8][4];  // O rows grp, grp + 8 of this warp; columns 8 dn + 2 tig, +1
#pragma unroll
  for (int dn = 0; dn < HD / 8; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.0f;
  float m0 = -INFINITY, m1 = -INFINITY;  // running max of rows r0, r1 (scores in base 2)
  float l0 = 0.0f, l1 = 0.0f;            // this thread's part of the running sums (its 2 of every 8 keys)

  // Where the keys of the tile at kb live (threads < kTile): key_row[buf][j] for key kb + j, or -1
  // where no row of the tile needs it (past kmax, or outside every row's window).
  auto find_rows = [&](int kb, int buf) {
    if (tid < kTile) {
      const int j = kb + tid;
      int64_t ro = -1;
      if (j <= kmax) {
        bool needed = true;
        if (windowed) {
          needed = false;
          for (int r = 0; r < cnt; ++r) needed = needed || (lo_s[r] <= j && j <= pos_s[r]);
        }
        if (needed) {
          const int64_t blk = bt[j / a.block_size];
          ro = ((blk * a.n_kv_head + kvh) * a.block_size + j % a.block_size) * HD;
        }
      }
      key_row[buf][tid] = ro;
    }
  };
  // K and V rows of a tile -> shared buffer buf (f16: the f16 tiles; fp8: the staging tiles),
  // 16 bytes per copy; keys not loaded are zeros (P is 0 there, and 0 * garbage could be NaN).
  // Then commits the group. Thread tid copies chunks tid, tid + kThreads, ... (widen_tile too).
  constexpr int kPerCopy = 16 / static_cast<int>(sizeof(KV));  // elements per 16-byte copy
  constexpr int kChunks = HD / kPerCopy;
  auto load_tile = [&](int buf) {
    for (int i = tid; i < kTile * kChunks; i += kThreads) {
      const int r = i / kChunks, c = (i % kChunks) * kPerCopy;
      const int64_t ro = key_row[buf][r];
      const int bytes = ro >= 0 ? 16 : 0;
      if constexpr (kF8) {
        cp_async16(kst0 + (buf * kTile + r) * SLD + c, kc + (ro >= 0 ? ro + c : 0), bytes);
        cp_async16(vst0 + (buf * kTile + r) * SLD + c, vc + (ro >= 0 ? ro + c : 0), bytes);
      } else {
        cp_async16(ks0 + (buf * kTile + r) * LD + c, kc + (ro >= 0 ? ro + c : 0), bytes);
        cp_async16(vs0 + (buf * kTile + r) * LD + c, vc + (ro >= 0 ? ro + c : 0), bytes);
      }
    }
    cp_async_commit();
  };
  // fp8: the chunks this thread copied into staging buffer buf (landed: cp.async.wait_group makes
  // a thread's own copies visible to it) -> the f16 tiles. The caller syncs before they are read.
  auto widen_tile = [&](int buf) {
    if constexpr (kF8) {
      for (int i = tid; i < kTile * kChunks; i += kThreads) {
        const int r = i / kChunks, c = (i % kChunks) * kPerCopy;
        widen16_fp8(kst0 + (buf * kTile + r) * SLD + c, ks0 + r * LD + c);
        widen16_fp8(vst0 + (buf * kTile + r) * SLD + c, vs0 + r * LD + c);
      }
    }
  };

  if (kmin <= kmax) {
    find_rows(kmin, 0);
    __syncthreads();
    load_tile(0);
  }
  int buf = 0;
  for (int kb = kmin; kb <= kmax; kb += kTile, buf ^= 1) {
    // Start the next tile's copies into the other buffer, then wait for this tile's.
    const bool more = kb + kTile <= kmax;
    if (more) find_rows(kb + kTile, buf ^ 1);
    __syncthreads();  // key_row[buf ^ 1] written; every warp done with the last tile (fp8: the one f16 tile)
    if (more) {
      load_tile(buf ^ 1);
    } else {
      cp_async_commit();  // an empty group: the wait below still leaves exactly one
    }
    cp_async_wait_all_but_one();
    widen_tile(buf);
    __syncthreads();  // this tile's copies (fp8: widened to f16), from every thread, have landed
    if (wmax < kb || wmin > kb + kTile - 1) continue;  // no row of this warp sees these keys
    const __half* ks = ks0 + (kF8 ? 0 : buf) * kTile * LD;
    const __half* vs = vs0 + (kF8 ? 0 : buf) * kTile * LD;

    // S = Q K^T: 16 rows x 64 keys as 8 n-tiles of 8 keys.
    float sacc[8][4];
#pragma unroll
    for (int n = 0; n < 8; ++n) sacc[n][0] = sacc[n][1] = sacc[n][2] = sacc[n][3] = 0.0f;
    const __half* qw = qs + warp * 16 * LD;
#pragma unroll
    for (int d0 = 0; d0 < HD; d0 += 16) {
      uint32_t qa[4];
      qa[0] = ld_b32(qw + grp * LD + d0 + 2 * tig);
      qa[1] = ld_b32(qw + (grp + 8) * LD + d0 + 2 * tig);
      qa[2] = ld_b32(qw + grp * LD + d0 + 8 + 2 * tig);
      qa[3] = ld_b32(qw + (grp + 8) * LD + d0 + 8 + 2 * tig);
#pragma unroll
      for (int n = 0; n < 8; n += 2) {
        // B[k = d][n = key] = K[key][d] of n-tiles n, n + 1: matrices (keys 8 n.., dims d0..),
        // (8 n.., d0 + 8..), (8 n + 8.., d0..), (8 n + 8.., d0 + 8..).
        uint32_t kb4[4];
        ldmatrix_x4(kb4, ks + (n * 8 + (lane & 7) + ((lane >> 4) << 3)) * LD + d0 + ((lane >> 3) & 1) * 8);
        mma_16816(sacc[n], qa, kb4[0], kb4[1]);
        mma_16816(sacc[n + 1], qa, kb4[2], kb4[3]);
      }
    }

    // Mask, scale to base 2, online softmax. sacc[n][e] is row r0, key kb + 8 n + 2 tig + e;
    // sacc[n][2 + e] row r1, the same key.
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
#pragma unroll
      for (int e = 0; e < 2; ++e) {
        const int j = kb + n * 8 + 2 * tig + e;
        const float s0 = lo0 <= j && j <= pos0 ? score(sacc[n][e]) : -INFINITY;
        const float s1 = lo1 <= j && j <= pos1 ? score(sacc[n][2 + e]) : -INFINITY;
        sacc[n][e] = s0;
        sacc[n][2 + e] = s1;
        mx0 = fmaxf(mx0, s0);
        mx1 = fmaxf(mx1, s1);
      }
    }
    // A row's 64 scores live in the 4 lanes of its quad.
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    // A row with no key yet keeps max -inf: subtract 0 then (exp2(-inf) = 0, never inf - inf).
    const float base0 = mx0 == -INFINITY ? 0.0f : mx0, base1 = mx1 == -INFINITY ? 0.0f : mx1;
    const float corr0 = exp2f(m0 - base0), corr1 = exp2f(m1 - base1);
    m0 = mx0;
    m1 = mx1;
    l0 *= corr0;
    l1 *= corr1;
#pragma unroll
    for (int n = 0; n < 8; ++n) {
      sacc[n][0] = exp2f(sacc[n][0] - base0);
      sacc[n][1] = exp2f(sacc[n][1] - base0);
      sacc[n][2] = exp2f(sacc[n][2] - base1);
      sacc[n][3] = exp2f(sacc[n][3] - base1);
      l0 += sacc[n][0] + sacc[n][1];
      l1 += sacc[n][2] + sacc[n][3];
    }
#pragma unroll
    for (int dn = 0; dn < HD / 8; ++dn) {
      o[dn][0] *= corr0;
      o[dn][1] *= corr0;
      o[dn][2] *= corr1;
      o[dn][3] *= corr1;
    }

    // P (16 x 64) as 4 A fragments of 16 keys: the C layout of n-tiles 2 kk and 2 kk + 1 is
    // exactly the A layout of k-chunk kk.
    uint32_t pa[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; ++kk) {
      pa[kk][0] = pack_floats(sacc[2 * kk][0], sacc[2 * kk][1]);
      pa[kk][1] = pack_floats(sacc[2 * kk][2], sacc[2 * kk][3]);
      pa[kk][2] = pack_floats(sacc[2 * kk + 1][0], sacc[2 * kk + 1][1]);
      pa[kk][3] = pack_floats(sacc[2 * kk + 1][2], sacc[2 * kk + 1][3]);
    }
    // O += P V: B[k = key][n = d] = V[key][d] of d-tiles dn, dn + 1, transposed from the
    // matrices (keys 16 kk.., dims 8 dn..), (16 kk + 8.., 8 dn..), (16 kk.., 8 dn + 8..),
    // (16 kk + 8.., 8 dn + 8..).
#pragma unroll
    for (int dn = 0; dn < HD / 8; dn += 2) {
#pragma unroll
      for (int kk = 0; kk < 4; ++kk) {
        uint32_t vb4[4];
        ldmatrix_x4_trans(vb4, vs + (kk * 16 + (lane & 15)) * LD + (dn + (lane >> 4)) * 8);
        mma_16816(o[dn], pa[kk], vb4[0], vb4[1]);
        mma_16816(o[dn + 1], pa[kk], vb4[2], vb4[3]);
      }
    }
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float inv0 = l0 > 0.0f ? 1.0f / l0 : 0.0f, inv1 = l1 > 0.0f ? 1.0f / l1 : 0.0f;
  if (r0 < cnt) {
    float* out = a.out + (static_cast<int64_t>(t0 + r0) * a.n_head + h) * HD + 2 * tig;
#pragma unroll
    for (int dn = 0; dn < HD / 8; ++dn)
      *reinterpret_cast<float2*>(out + dn * 8) = make_float2(o[dn][0] * inv0, o[dn][1] * inv0);
  }
  if (r1 < cnt) {
    float* out = a.out + (static_cast<int64_t>(t0 + r1) * a.n_head + h) * HD + 2 * tig;
#pragma unroll
    for (int dn = 0; dn < HD / 8; ++dn)
      *reinterpret_cast<float2*>(out + dn * 8) = make_float2(o[dn][2] * inv1, o[dn][3] * inv1);
  }
}

template <int HD, typename KV>
void launch(const AttentionArgs& a, const int32_t* tiles, int n_tiles, float scale_log2, cudaStream_t s) {
  constexpr size_t smem = smem_bytes<HD, KV>();
  static_assert(smem <= 227 * 1024, "more shared memory than an sm_90 block can have");
  // Always raised (once per process, head size and cache type; the backend uses one device): the
  // static arrays count against the default 48 KiB too (fp8 at head size 64: 48128 + 1544 bytes).
  static const bool raised = [] {
    QUARREL_CUDA_CHECK(cudaFuncSetAttribute(attention_prefill_kernel<HD, KV>,
                                            cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    return true;
  }();
  (void)raised;
  constexpr int kMaxGridY = 65535;
  for (int base = 0; base < n_tiles; base += kMaxGridY) {
    const int n = n_tiles - base < kMaxGridY ? n_tiles - base : kMaxGridY;
    attention_prefill_kernel<HD, KV>
        <<<dim3(static_cast<unsigned>(a.n_head), static_cast<unsigned>(n)), kThreads, smem, s>>>(a, tiles, base,
                                                                                                 scale_log2);
    QUARREL_CUDA_CHECK_LAUNCH();
  }
}

bool aligned(const void* p, uintptr_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

bool attention_prefill_supported(int head_dim) {
  return head_dim == 64 || head_dim == 80 || head_dim == 96 || head_dim == 128 || head_dim == 256;
}

int build_prefill_tiles(const int32_t* bt_offset, int n_tokens, int32_t* tiles_out, int max_tiles) {
  int n = 0;
  for (int t = 0; t < n_tokens;) {
    int c = 1;
    while (c < kPrefillTileTokens && t + c < n_tokens && bt_offset[t + c] == bt_offset[t]) ++c;
    if (n < max_tiles) {
      tiles_out[2 * n] = t;
      tiles_out[2 * n + 1] = c;
    }
    ++n;
    t += c;
  }
  return n;
}

void attention_prefill(const AttentionArgs& a, const int32_t* tiles_device, int n_tiles, cudaStream_t s) {
  if (a.n_tokens == 0) return;
  const bool fast = attention_prefill_supported(a.head_dim) && a.n_kv_head > 0 && a.n_head > 0 &&
                    a.n_head % a.n_kv_head == 0 && tiles_device != nullptr && n_tiles > 0 && aligned(a.q, 16) &&
                    aligned(a.out, 8) && aligned(a.k_cache, 16) && aligned(a.v_cache, 16);
  if (!fast) {
    attention(a, s);  // also reports bad head counts
    return;
  }
  const float scale = a.scale > 0.0f ? a.scale : 1.0f / sqrtf(static_cast<float>(a.head_dim));
  const float scale_log2 = scale * 1.4426950408889634f;  // exp(x) = exp2(x log2 e)
  with_kv_type(a.kv_type, [&](auto kv) {
    using KV = decltype(kv);
    switch (a.head_dim) {
      case 64: launch<64, KV>(a, tiles_device, n_tiles, scale_log2, s); break;
      case 80: launch<80, KV>(a, tiles_device, n_tiles, scale_log2, s); break;
      case 96: launch<96, KV>(a, tiles_device, n_tiles, scale_log2, s); break;
      case 128: launch<128, KV>(a, tiles_device, n_tiles, scale_log2, s); break;
      default: launch<256, KV>(a, tiles_device, n_tiles, scale_log2, s); break;
    }
  });
}

}  // namespace quarrel::cuda
