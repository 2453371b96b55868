#pragma once
// Integer dot products of one unit of weights with int8 activations (kernels.h's Q8Act: per
// 32-element chunk, 8 words of int8 x and (d_x, d_x * sum q_x)), four products per __dp4a.
// A unit is kChunks chunks whose bytes sit together: one chunk for Q4_0 and Q8_0; for the types
// whose 32-byte groups of nibbles hold two chunks (Q4_K, Q5_K: sub-blocks 2j and 2j + 1 in the
// low and high nibbles; IQ4_XS: sub-blocks 2j and 2j + 1 in the two halves; Q6_K: chunks qi and
// qi + 2 of a half), both, so a thread uses every byte it loads and unpacks the scales once per
// two chunks. x_chunk(u, i) is the activation chunk of the
// unit's i-th chunk. Per chunk, with q the weight's integers and d its scale(s), the sum is
//   Q8_0: d d_x sum q q_x                 Q4_0: d (d_x sum q q_x - 8 s_x)
//   Q4_K/Q5_K: d_s d_x sum q q_x - m_s s_x  (sub-block scale d_s, min m_s)
//   Q6_K: per half h of 16: d_h d_x (sum q q_x - 32 sum q_x)
//   IQ4_XS: d (ls_s - 32) d_x sum v(q) q_x  (v: the code book's int8 values)
// where s_x = d_x * sum q_x comes with the activations.
#include <type_traits>
#include <utility>

#include "backend/cuda/chunk_dot.cuh"

namespace quarrel::cuda {

template <uint32_t T>
struct ChunkDotQ8;

// One chunk per unit, the raw loads of chunk_dot.cuh's ChunkDot<T> (both matvecs read alike).
template <uint32_t T>
struct OneChunkQ8 : ChunkDot<T> {
  static constexpr int kChunks = 1;
  __device__ static int64_t x_chunk(int64_t u, int) { return u; }
};

template <>
struct ChunkDotQ8<kDevQ8_0> : OneChunkQ8<kDevQ8_0> {
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds) {
    int s = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) s = __dp4a(static_cast<int>(r.q[i]), x[0][i], s);
    return r.d * ds[0].x * static_cast<float>(s);
  }
};

// acc + 16 * (the dot of w's four high nibbles with x's four int8): the nibbles are taken in place
// (bytes 16 q, unsigned), which saves the shift that (w >> 4) & 0x0F0F0F0F costs per word; the
// caller's sum is a multiple of 16, and >> 4 on it is exact.
__device__ __forceinline__ int dp4a_high_nibbles_x16(uint32_t w, int x, int acc) {
  int d;
  asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(w & 0xF0F0F0F0u), "r"(x), "r"(acc));
  return d;
}

template <>
struct ChunkDotQ8<kDevQ4_0> : OneChunkQ8<kDevQ4_0> {  // low nibbles: elements 0..15, high: 16..31
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds) {
    int s = 0, s_hi16 = 0;
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      s = __dp4a(static_cast<int>(r.q[i] & 0x0F0F0F0Fu), x[0][i], s);
      s_hi16 = dp4a_high_nibbles_x16(r.q[i], x[0][4 + i], s_hi16);
    }
    s += s_hi16 >> 4;
    return r.d * (ds[0].x * static_cast<float>(s) - 8.0f * ds[0].y);
  }
};

// Units of two sub-blocks (Q4_K, Q5_K, IQ4_XS): 32 nibble bytes, sub-block 2j's in the low or first
// half and 2j + 1's in the high or second, read as two interleaved 16-byte halves (device_rows.h).
struct SubBlockPairQ8 {
  static constexpr int kChunks = 2;
  static constexpr int kMaxRows = 8;
  __device__ static int64_t x_chunk(int64_t u, int i) { return 2 * u + i; }
  template <bool S>
  __device__ static void load_halves(const uint8_t* row, int64_t u, int64_t nb, uint4& first, uint4& second) {
    first = ld_quants<S>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0)));
    second = ld_quants<S>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1)));
  }
};

// The scales of a Q4_K / Q5_K unit j (sub-blocks 2j and 2j + 1) from the super-block's 16-byte
// header (d, dmin, scales[12]): sub-block 2j + c's 6-bit scale sc[c] and min m[c], and (d, dmin).
struct KUnitScales {
  int sc[2];
  float m[2];
  float2 dm;
};
__device__ __forceinline__ KUnitScales k_unit_scales(const uint4& head, uint32_t j) {
  // The 6-bit scales (sc) and mins (m) of sub-blocks 0..3 are the low 6 bits of scales[0..3]
  // and [4..7]; those of 4..7 take their low 4 bits from the nibbles of scales[8..11] and their
  // top 2 from the top bits of scales[0..3] / [4..7]. Four at a time, one per byte:
  const uint32_t a0 = head.y, a1 = head.z, a2 = head.w;
  const bool upper = j >= 2;  // sub-blocks 4..7
  const uint32_t sc4 = upper ? (a2 & 0x0F0F0F0Fu) | ((a0 >> 2) & 0x30303030u) : a0 & 0x3F3F3F3Fu;
  const uint32_t m4 = upper ? ((a2 >> 4) & 0x0F0F0F0Fu) | ((a1 >> 2) & 0x30303030u) : a1 & 0x3F3F3F3Fu;
  const uint32_t sh = (j & 1) * 16;  // bytes 2j % 4 and 2j % 4 + 1
  KUnitScales k;
  k.sc[0] = static_cast<int>((sc4 >> sh) & 0xFF), k.sc[1] = static_cast<int>((sc4 >> (sh + 8)) & 0xFF);
  k.m[0] = static_cast<float>((m4 >> sh) & 0xFF), k.m[1] = static_cast<float>((m4 >> (sh + 8)) & 0xFF);
  k.dm = __half22float2(__halves2half2(__ushort_as_half(static_cast<uint16_t>(head.x & 0xFFFF)),
                                       __ushort_as_half(static_cast<uint16_t>(head.x >> 16))));
  return k;
}

// Elements 4i .. 4i + 3 (0..31, a byte each) of Q5_K sub-block 2j + c of a unit, from the unit's
// nibble word i (w) and the sub-block's word of fifth bits (h).
__device__ __forceinline__ uint32_t q5k_word(uint32_t w, uint32_t h, int i, int c) {
  return ((w >> (4 * c)) & 0x0F0F0F0Fu) | (((h >> i) & 0x01010101u) << 4);
}
// Elements 4i .. 4i + 3 (0..63, a byte each) of a Q6_K unit's chunk c (0: q, 1: q + 2), from the
// unit's ql word i and its tops word i & 3 (chunk q's tops in bits 0-1 of each nibble, q + 2's in 2-3).
__device__ __forceinline__ uint32_t q6k_word(uint32_t ql, uint32_t top, int i, int c) {
  return ((ql >> (4 * c)) & 0x0F0F0F0Fu) | (((top >> (4 * (i >> 2) + 2 * c)) & 0x03030303u) << 4);
}

// A Q4_K / Q5_K unit's sum from the integer dots s0, s1 of its sub-blocks 2j and 2j + 1.
__device__ __forceinline__ float k_unit_sum(const uint4& head, uint32_t j, int s0, int s1, const float2* ds) {
  const KUnitScales k = k_unit_scales(head, j);
  return k.dm.x * (ds[0].x * static_cast<float>(k.sc[0] * s0) + ds[1].x * static_cast<float>(k.sc[1] * s1)) -
         k.dm.y * (k.m[0] * ds[0].y + k.m[1] * ds[1].y);
}

// Q4_K super-blocks, rows split (device_rows.h): qs[128] of each (interleaved units), then their
// 16-byte headers: d, dmin (f16), scales[12] (6-bit scale and min of 8 sub-blocks). Unit u = the
// 32 nibble bytes qs[32 j ..] of super-block u / 4 (j = u % 4): sub-blocks 2j (low nibbles) and
// 2j + 1 (high). Three 16-byte loads: the header and the unit's halves.
template <>
struct ChunkDotQ8<kDevQ4_K> : SubBlockPairQ8 {
  struct Raw {
    uint4 head, q0, q1;
    uint32_t j;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t u, int64_t k) {
    const int64_t nb = k / 256;
    Raw r;
    r.head = ld<S>(reinterpret_cast<const uint4*>(row + SplitQ4_K::scales(u >> 2, nb)));
    load_halves<S>(row, u, nb, r.q0, r.q1);
    r.j = static_cast<uint32_t>(u & 3);
    return r;
  }
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds) {
    const uint32_t w[8] = {r.q0.x, r.q0.y, r.q0.z, r.q0.w, r.q1.x, r.q1.y, r.q1.z, r.q1.w};
    int s0 = 0, s1_16 = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      s0 = __dp4a(static_cast<int>(w[i] & 0x0F0F0F0Fu), x[0][i], s0);
      s1_16 = dp4a_high_nibbles_x16(w[i], x[1][i], s1_16);
    }
    return k_unit_sum(r.head, r.j, s0, s1_16 >> 4, ds);
  }
};

// Q5_K super-blocks, rows split (device_rows.h): Q4_K's units of nibbles, then each unit's fifth
// bits (q5k_highs: a word per sub-block, element 4i + e's bit at 8e + i), then the 16-byte
// headers. Four loads: the header, the unit's halves and its 8 bytes of fifth bits.
template <>
struct ChunkDotQ8<kDevQ5_K> : SubBlockPairQ8 {
  struct Raw {
    uint4 head, q0, q1;
    uint2 hi;
    uint32_t j;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t u, int64_t k) {
    const int64_t nb = k / 256;
    Raw r;
    r.head = ld<S>(reinterpret_cast<const uint4*>(row + SplitQ5_K::scales(u >> 2, nb)));
    load_halves<S>(row, u, nb, r.q0, r.q1);
    r.hi = ld<S>(reinterpret_cast<const uint2*>(row + q5k_highs(u, nb)));
    r.j = static_cast<uint32_t>(u & 3);
    return r;
  }
  __device__ static uint32_t word(const Raw& r, uint32_t w, int i, int c) { return q5k_word(w, c ? r.hi.y : r.hi.x, i, c); }
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds) {
    const uint32_t w[8] = {r.q0.x, r.q0.y, r.q0.z, r.q0.w, r.q1.x, r.q1.y, r.q1.z, r.q1.w};
    int s0 = 0, s1 = 0;
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      s0 = __dp4a(static_cast<int>(word(r, w[i], i, 0)), x[0][i], s0);
      s1 = __dp4a(static_cast<int>(word(r, w[i], i, 1)), x[1][i], s1);
    }
    return k_unit_sum(r.head, r.j, s0, s1, ds);
  }
};

// Q6_K super-blocks, rows split (device_rows.h): unit u = 4 b + 2 h + q of super-block b is the
// 32 bytes ql[64 h + 32 q ..] (interleaved halves: the low 4 bits of chunks q and q + 2 of half
// h), its 16 bytes of tops (q6k_tops: the 2 high bits of both chunks, a nibble per element pair),
// the 8 int8 scales of half h (chunk c's at bytes 2c, 2c + 1, one per 16 elements) and d: three
// 16-byte loads, one of 8 bytes, one of 2.
template <>
struct ChunkDotQ8<kDevQ6_K> {
  static constexpr int kChunks = 2;
  static constexpr int kMaxRows = 4;
  __device__ static int64_t x_chunk(int64_t u, int i) { return 8 * (u >> 2) + 4 * ((u >> 1) & 1) + (u & 1) + 2 * i; }
  struct Raw {
    uint4 ql[2], tops;
    uint2 sc;
    uint32_t q;
    float d;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t u, int64_t k) {
    const int64_t sb = u >> 2, nb = k / 256;
    const int h = static_cast<int>((u >> 1) & 1);
    Raw r;
    r.ql[0] = ld_quants<S>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 0)));
    r.ql[1] = ld_quants<S>(reinterpret_cast<const uint4*>(row + unit_half(u, 4 * nb, 1)));
    r.tops = ld_quants<S>(reinterpret_cast<const uint4*>(row + q6k_tops(u, nb)));
    r.sc = ld<S>(reinterpret_cast<const uint2*>(row + SplitQ6_K::scales(sb, nb) + 8 * h));
    r.d = f16_at<S>(row + SplitQ6_K::d(sb, nb));
    r.q = static_cast<uint32_t>(u & 1);
    return r;
  }
  __device__ static uint32_t word(const Raw& r, int i, int c) {
    return q6k_word(i < 4 ? (&r.ql[0].x)[i] : (&r.ql[1].x)[i - 4], (&r.tops.x)[i & 3], i, c);
  }
  struct XSums {
    int v[2][2];  // [chunk][16-element half]: the sum of the int8 x
  };
  // Once per chunk pair and column for all of a block's rows (the compiler did not share it).
  __device__ static XSums x_sums(const int (*x)[8]) {
    XSums xs{};
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      xs.v[0][i / 4] = __dp4a(0x01010101, x[0][i], xs.v[0][i / 4]);
      xs.v[1][i / 4] = __dp4a(0x01010101, x[1][i], xs.v[1][i / 4]);
    }
    return xs;
  }
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds, const XSums& x_sum) {
    const uint32_t sc[2] = {r.sc.x, r.sc.y};
    const auto& xs = x_sum.v;
    int s[2][2] = {};  // [chunk][16-element half]
#pragma unroll
    for (int i = 0; i < 8; ++i) {
      const uint32_t lo = word(r, i, 0), hi = word(r, i, 1);
      s[0][i / 4] = __dp4a(static_cast<int>(lo), x[0][i], s[0][i / 4]);
      s[1][i / 4] = __dp4a(static_cast<int>(hi), x[1][i], s[1][i / 4]);
    }
    const uint32_t sh = 16 * r.q;  // chunk q: bytes 2q, 2q + 1 of sc[0]; q + 2: of sc[1]
    float out = 0.0f;
#pragma unroll
    for (int c = 0; c < 2; ++c) {
      const auto a = static_cast<float>(static_cast<int8_t>((sc[c] >> sh) & 0xFF));
      const auto b = static_cast<float>(static_cast<int8_t>((sc[c] >> (sh + 8)) & 0xFF));
      out += ds[c].x * (a * static_cast<float>(s[c][0] - 32 * xs[c][0]) + b * static_cast<float>(s[c][1] - 32 * xs[c][1]));
    }
    return r.d * out;
  }
};

// IQ4_XS super-blocks, rows split (device_rows.h): qs[128] of each (interleaved units), then their
// 8-byte headers: d (f16), scales_h, scales_l[4] (iq4_lookup.cuh). Unit u = the 32 bytes qs[32 j ..]
// of super-block u / 4 (j = u % 4): sub-blocks 2j and 2j + 1, 16 bytes each, element l of a
// sub-block in byte l % 16's low (l < 16) or high nibble, an index into the code book. Three
// loads: the header (8 bytes) and the unit's 16-byte halves.
template <>
struct ChunkDotQ8<kDevIQ4_XS> : SubBlockPairQ8 {
  struct Raw {
    uint4 q[2];
    uint2 head;
    uint32_t j;
  };
  template <bool S = false>
  __device__ static Raw load(const uint8_t* row, int64_t u, int64_t k) {
    const int64_t nb = k / 256;
    Raw r;
    r.head = ld<S>(reinterpret_cast<const uint2*>(row + SplitIQ4_XS::scales(u >> 2, nb)));
    load_halves<S>(row, u, nb, r.q[0], r.q[1]);
    r.j = static_cast<uint32_t>(u & 3);
    return r;
  }
  // A chunk's x in the order the lookups give the weights (once per chunk and column, for all the
  // block's rows): word 2i = elements 4i, 16 + 4i, 4i + 1, 17 + 4i; word 2i + 1 = the next two pairs.
  __device__ static void permute_x(int (&x)[8]) {
    int p[8];
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      p[2 * i] = static_cast<int>(__byte_perm(static_cast<uint32_t>(x[i]), static_cast<uint32_t>(x[4 + i]), 0x5140u));
      p[2 * i + 1] = static_cast<int>(__byte_perm(static_cast<uint32_t>(x[i]), static_cast<uint32_t>(x[4 + i]), 0x7362u));
    }
#pragma unroll
    for (int i = 0; i < 8; ++i) x[i] = p[i];
  }
  // x: permuted (permute_x). The code book through iq4_parts_of_nibbles: the integer sum is
  // sum (v(q) - 1) q_x, so d_x times it plus s_x = d_x sum q_x is the chunk's d_x sum v(q) q_x.
  __device__ static float dot(const Raw& r, const int (*x)[8], const float2* ds) {
    float out = 0.0f;
#pragma unroll
    for (int c = 0; c < 2; ++c) {  // sub-block 2j + c is activation chunk c
      const uint32_t w[4] = {r.q[c].x, r.q[c].y, r.q[c].z, r.q[c].w};
      int s = 0;
#pragma unroll
      for (int i = 0; i < 4; ++i) {  // word i: elements 4i .. 4i + 3 (low nibbles), 16 + 4i .. (high)
        const uint32_t nw = ~w[i];
        const Iq4Parts a = iq4_parts_of_nibbles(w[i], nw), b = iq4_parts_of_nibbles(w[i] >> 16, nw >> 16);
        s = __dp4a(static_cast<int>(a.low), x[c][2 * i], s);
        s = __dp4a(static_cast<int>(a.high), x[c][2 * i], s);
        s = __dp4a(static_cast<int>(b.low), x[c][2 * i + 1], s);
        s = __dp4a(static_cast<int>(b.high), x[c][2 * i + 1], s);
      }
      const int ls = iq4_xs_scale(r.head.y, r.head.x >> 16, static_cast<int>(2 * r.j) + c);
      out += static_cast<float>(ls) * (ds[c].x * static_cast<float>(s) + ds[c].y);
    }
    return __half2float(__ushort_as_half(static_cast<uint16_t>(r.head.x & 0xFFFF))) * out;
  }
};

// Dot types that read a chunk of x in an order of their own (IQ4_XS) have permute_x, applied once
// per chunk and column for all of a block's rows.
template <typename D, typename = void>
struct PermutesX : std::false_type {};
template <typename D>
struct PermutesX<D, std::void_t<decltype(D::permute_x(std::declval<int (&)[8]>()))>> : std::true_type {};

// Dots that need sums of the activations that do not depend on the row (Q6_K's per 16 elements)
// have x_sums(x): made once per chunk and column for all of a block's rows (x_sums_for), then
// passed to their dot (dot_for).
template <typename D, typename = void>
struct HasXSums : std::false_type {};
template <typename D>
struct HasXSums<D, std::void_t<decltype(D::x_sums(std::declval<const int (*)[8]>()))>> : std::true_type {};
struct NoXSums {};
template <typename D>
__device__ __forceinline__ auto x_sums_for(const int (*x)[8]) {
  if constexpr (HasXSums<D>::value) {
    return D::x_sums(x);
  } else {
    return NoXSums{};
  }
}
template <typename D, typename S>
__device__ __forceinline__ float dot_for(const typename D::Raw& r, const int (*x)[8], const float2* ds, const S& sums) {
  if constexpr (HasXSums<D>::value) {
    return D::dot(r, x, ds, sums);
  } else {
    return D::dot(r, x, ds);
  }
}

// Chunk ch of one column of int8 activations (its bytes q and its (d, d * sum q) pairs ds_col) as
// Dot reads it: 8 words of int8 (permuted where Dot reads its own order) and the chunk's pair,
// through the read-only path.
template <typename Dot>
__device__ __forceinline__ void load_x_chunk(const int8_t* q, const float2* ds_col, int64_t ch, int (&xi)[8],
                                             float2& ds) {
  const uint4* xv = reinterpret_cast<const uint4*>(q + 32 * ch);
  const uint4 a = __ldg(xv), b = __ldg(xv + 1);
  xi[0] = static_cast<int>(a.x), xi[1] = static_cast<int>(a.y), xi[2] = static_cast<int>(a.z);
  xi[3] = static_cast<int>(a.w), xi[4] = static_cast<int>(b.x), xi[5] = static_cast<int>(b.y);
  xi[6] = static_cast<int>(b.z), xi[7] = static_cast<int>(b.w);
  ds = __ldg(ds_col + ch);
  if constexpr (PermutesX<Dot>::value) Dot::permute_x(xi);
}

}  // namespace quarrel::cuda
