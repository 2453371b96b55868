#pragma once
// How matmul_q8.cu stages a weight row's slab (256 elements: 8 chunks of 32) in shared memory and
// reads it as int8 tensor-core fragments. Per type:
//   piece(q, s, k): the q-th 16-byte piece of row slab s (kPieces of them): its offset in the row
//     (device_rows.h's split layout) and how many of its bytes exist (0..16; fewer at the end of a
//     row whose chunk count is not a multiple of 8, the rest zero-filled). The pieces of a slab
//     are a few contiguous runs of the row (its units' halves, their headers), copied to
//     [16 q, 16 q + 16) of the row's kPitch bytes in the stage. Q6_K's f16 d has a 4-byte piece of
//     its own (kWordPiece, kWordBytes), the aligned word that holds it; IQ4_XS's 8-byte header one
//     of 8 bytes.
//   fragment(st, cl, t): chunk cl's elements 4t .. 4t + 3 (lo) and 16 + 4t .. 16 + 4t + 3 (hi) as
//     int8, the words of mma.sync's A fragment that lane (4 g + t) holds for this row.
//   scales(st, cl): the chunk's scales: its sum is d0 d_x sum_{l<16} q q_x + d1 d_x sum_{l>=16}
//     q q_x - m s_x (d0 == d1 but for Q6_K; m only for Q4_K and Q5_K, whose mins differ per
//     sub-block; the zero points of Q4_0 (8) and Q6_K (32) are taken off the integers; IQ4_XS's
//     integers are its code book's values).
// kPitch is a multiple of 16 such that the 8 rows x 4 words of a fragment load fall in distinct
// shared-memory banks.
#include "backend/cuda/chunk_dot_q8.cuh"

namespace quarrel::cuda {

__device__ __forceinline__ uint32_t st32(const uint8_t* p) { return *reinterpret_cast<const uint32_t*>(p); }
__device__ __forceinline__ float st_f16(const uint8_t* p) { return __half2float(*reinterpret_cast<const __half*>(p)); }

struct MmqScales {
  float d0, d1, m;
};

template <uint32_t T>
struct MmqSlab;

// Q8_0 and Q4_0 (a unit per chunk): how many of slab s's 8 chunks a row of k elements has, and
// the piece of their f16 d's (16 bytes at d_at, 2 per chunk).
__device__ __forceinline__ int64_t slab_chunks(int64_t s, int64_t k) { return k / 32 - 8 * s < 8 ? k / 32 - 8 * s : 8; }
__device__ __forceinline__ void d_piece(size_t d_at, int64_t valid, size_t& off, int& bytes) {
  off = d_at;
  bytes = static_cast<int>(2 * valid);
}

// Q8_0: [0, 128) first halves of the slab's 8 units (chunks), [128, 256) second halves, [256, 272) d's.
template <>
struct MmqSlab<kDevQ8_0> {
  static constexpr int kPieces = 17, kPitch = 272, kWordPiece = -1, kWordBytes = 0;
  __device__ static void piece(int q, int64_t s, int64_t k, size_t& off, int& bytes) {
    const int64_t nb = k / 32, valid = slab_chunks(s, k);
    if (q == 16) return d_piece(SplitQ8_0::d(8 * s, nb), valid, off, bytes);
    off = unit_half(8 * s, nb, q >> 3) + 16 * (q & 7);
    bytes = (q & 7) < valid ? 16 : 0;
  }
  __device__ static void fragment(const uint8_t* st, int cl, int t, uint32_t& lo, uint32_t& hi) {
    lo = st32(st + 16 * cl + 4 * t);
    hi = st32(st + 128 + 16 * cl + 4 * t);
  }
  __device__ static MmqScales scales(const uint8_t* st, int cl) {
    const float d = st_f16(st + 256 + 2 * cl);
    return {d, d, 0.0f};
  }
};

// Q4_0: [0, 128) the 16 nibble bytes of each chunk (low: elements 0..15, high: 16..31), [128, 144) d's.
template <>
struct MmqSlab<kDevQ4_0> {
  static constexpr int kPieces = 9, kPitch = 144, kWordPiece = -1, kWordBytes = 0;
  __device__ static void piece(int q, int64_t s, int64_t k, size_t& off, int& bytes) {
    const int64_t valid = slab_chunks(s, k);
    if (q == 8) return d_piece(SplitQ4_0::d(8 * s, k / 32), valid, off, bytes);
    off = SplitQ4_0::quants(8 * s + q);
    bytes = q < valid ? 16 : 0;
  }
  __device__ static void fragment(const uint8_t* st, int cl, int t, uint32_t& lo, uint32_t& hi) {
    const uint32_t w = st32(st + 16 * cl + 4 * t);
    lo = __vsub4(w & 0x0F0F0F0Fu, 0x08080808u);
    hi = __vsub4((w >> 4) & 0x0F0F0F0Fu, 0x08080808u);
  }
  __device__ static MmqScales scales(const uint8_t* st, int cl) {
    const float d = st_f16(st + 128 + 2 * cl);
    return {d, d, 0.0f};
  }
};

// Q4_K (and Q5_K's first 144 bytes): [0, 64) first halves of the super-block's 4 units, [64, 128)
// second halves, [128, 144) the header (d, dmin, scales). Chunk cl: unit cl / 2, sub-block 2 (cl / 2)
// + cl % 2 in its low (even) or high (odd) nibbles; word i of the unit: half i / 4, word i % 4.
template <uint32_t T>
struct MmqSlabK {
  static constexpr bool kQ5 = T == kDevQ5_K;
  // Q5_K: [144, 176) the units' fifth bits (two words per unit: sub-block 2j's, then 2j + 1's).
  static constexpr int kPieces = kQ5 ? 11 : 9, kPitch = kQ5 ? 176 : 144, kWordPiece = -1, kWordBytes = 0;
  __device__ static void piece(int q, int64_t s, int64_t k, size_t& off, int& bytes) {
    const int64_t nb = k / 256;
    bytes = 16;
    if (q < 8) {
      off = unit_half(4 * s, 4 * nb, q >> 2) + 16 * (q & 3);
    } else if (q == 8) {
      off = kQ5 ? SplitQ5_K::scales(s, nb) : SplitQ4_K::scales(s, nb);
    } else {
      off = q5k_highs(4 * s, nb) + 16 * (q - 9);
    }
  }
  __device__ static void fragment(const uint8_t* st, int cl, int t, uint32_t& lo, uint32_t& hi) {
    const int u = cl >> 1, c = cl & 1;
    const uint32_t w0 = st32(st + 16 * u + 4 * t), w1 = st32(st + 64 + 16 * u + 4 * t);
    if constexpr (kQ5) {
      const uint32_t h = st32(st + 144 + 8 * u + 4 * c);
      lo = q5k_word(w0, h, t, c);
      hi = q5k_word(w1, h, t + 4, c);
    } else {
      lo = (w0 >> (4 * c)) & 0x0F0F0F0Fu;
      hi = (w1 >> (4 * c)) & 0x0F0F0F0Fu;
    }
  }
  __device__ static MmqScales scales(const uint8_t* st, int cl) {
    const KUnitScales k = k_unit_scales(*reinterpret_cast<const uint4*>(st + 128), static_cast<uint32_t>(cl >> 1));
    const float d = k.dm.x * static_cast<float>(k.sc[cl & 1]);
    return {d, d, k.dm.y * k.m[cl & 1]};
  }
};
template <>
struct MmqSlab<kDevQ4_K> : MmqSlabK<kDevQ4_K> {};
template <>
struct MmqSlab<kDevQ5_K> : MmqSlabK<kDevQ5_K> {};

// Q6_K: [0, 64) first halves of the super-block's 4 ql units, [64, 128) second halves, [128, 192)
// their tops, [192, 208) the 16 int8 scales (8 per half of the super-block), [208, 212) the aligned
// word holding d. Chunk cl = 4 h + q + 2 c is chunk c (q, or q + 2) of unit 2 h + q.
template <>
struct MmqSlab<kDevQ6_K> {
  static constexpr int kPieces = 14, kPitch = 240, kWordPiece = 13, kWordBytes = 4;
  __device__ static void piece(int q, int64_t s, int64_t k, size_t& off, int& bytes) {
    const int64_t nb = k / 256;
    bytes = 16;
    if (q < 8) {
      off = unit_half(4 * s, 4 * nb, q >> 2) + 16 * (q & 3);
    } else if (q < 12) {
      off = q6k_tops(4 * s, nb) + 16 * (q - 8);
    } else if (q == 12) {
      off = SplitQ6_K::scales(s, nb);
    } else {
      off = SplitQ6_K::d(s, nb) & ~size_t{3};
      bytes = 4;
    }
  }
  __device__ static void fragment(const uint8_t* st, int cl, int t, uint32_t& lo, uint32_t& hi) {
    const int u = 2 * (cl >> 2) + (cl & 1), c = (cl >> 1) & 1;
    const uint32_t top = st32(st + 128 + 16 * u + 4 * t);
    lo = __vsub4(q6k_word(st32(st + 16 * u + 4 * t), top, t, c), 0x20202020u);
    hi = __vsub4(q6k_word(st32(st + 64 + 16 * u + 4 * t), top, t + 4, c), 0x20202020u);
  }
  // d: the f16 at SplitQ6_K::d(s, nb), 2-byte aligned: its half of the staged word.
  __device__ static MmqScales scales(const uint8_t* st, int cl, int64_t s, int64_t k) {
    const int h = cl >> 2, q = cl & 1, c = (cl >> 1) & 1;
    const uint8_t* sc = st + 192 + 8 * h + 4 * c + 2 * q;
    const float d = st_f16(st + 208 + (SplitQ6_K::d(s, k / 256) & 2));
    return {d * static_cast<float>(static_cast<int8_t>(sc[0])), d * static_cast<float>(static_cast<int8_t>(sc[1])), 0.0f};
  }
};

// IQ4_XS: [0, 64) first halves of the super-block's 4 units (sub-blocks 0, 2, 4, 6), [64, 128)
// second halves (1, 3, 5, 7), [128, 136) the header (d, scales_h, scales_l[4]). Sub-block cl's 16
// bytes: byte i holds element i in its low nibble and 16 + i in its high one, code book indices.
template <>
struct MmqSlab<kDevIQ4_XS> {
  static constexpr int kPieces = 9, kPitch = 144, kWordPiece = 8, kWordBytes = 8;
  __device__ static void piece(int q, int64_t s, int64_t k, size_t& off, int& bytes) {
    const int64_t nb = k / 256;
    bytes = q < 8 ? 16 : 8;
    off = q < 8 ? unit_half(4 * s, 4 * nb, q >> 2) + 16 * (q & 3) : SplitIQ4_XS::scales(s, nb);
  }
  __device__ static void fragment(const uint8_t* st, int cl, int t, uint32_t& lo, uint32_t& hi) {
    iq4_values_of_word(st32(st + 64 * (cl & 1) + 16 * (cl >> 1) + 4 * t), lo, hi);
  }
  __device__ static MmqScales scales(const uint8_t* st, int cl) {
    const float d = st_f16(st + 128) * static_cast<float>(iq4_xs_scale(st32(st + 132), st32(st + 128) >> 16, cl));
    return {d, d, 0.0f};
  }
};

// scales() with the slab's place, for the types whose layout needs it (Q6_K's d word).
template <uint32_t T>
__device__ __forceinline__ MmqScales mmq_scales(const uint8_t* st, int cl, int64_t s, int64_t k) {
  if constexpr (T == kDevQ6_K) {
    return MmqSlab<T>::scales(st, cl, s, k);
  } else {
    return MmqSlab<T>::scales(st, cl);
  }
}

}  // namespace quarrel::cuda
