#pragma once
// The IQ4_NL / IQ4_XS code book on the device, four values per lookup: the 16 int8 entries
// (quant/blocks.h's kIq4nlValues) packed into four words, and __byte_perm picking bytes of
// them. Used by the dequantizer (dequant.cuh) and the tensor-core tiles (mmq_slab.cuh); the
// decode matvec's dot products (chunk_dot_q8.cuh) take iq4_parts_of_nibbles: two permutes, not three.
#include <cstdint>

#include "quant/blocks.h"

namespace quarrel::cuda {

// Four code book entries plus bias, one per byte: byte e holds entry first + step * e.
constexpr uint32_t iq4_pack_word(int first, int step, int bias) {
  uint32_t w = 0;
  for (int e = 0; e < 4; ++e) {
    w |= static_cast<uint32_t>(static_cast<uint8_t>(quant::kIq4nlValues[first + step * e] + bias)) << (8 * e);
  }
  return w;
}
// Entries 4i .. 4i + 3 of the code book, one per byte (entry 4i in the low byte).
constexpr uint32_t iq4_table_word(int i) { return iq4_pack_word(4 * i, 1, 0); }

// Byte n of the result: the code book entry of nibble n of sel's low 16 bits (int8).
__device__ __forceinline__ uint32_t iq4_values_of_nibbles(uint32_t sel) {
  constexpr uint32_t t0 = iq4_table_word(0), t1 = iq4_table_word(1), t2 = iq4_table_word(2), t3 = iq4_table_word(3);
  const uint32_t low3 = sel & 0x7777u;             // an entry's place among 8
  const uint32_t first = __byte_perm(t0, t1, low3);  // as if every index were < 8
  const uint32_t second = __byte_perm(t2, t3, low3);  // as if every index were >= 8
  // Bit 3 of an index, moved to bit 2 of its selector, takes byte n of `second` (n + 4).
  return __byte_perm(first, second, 0x3210u | ((sel >> 1) & 0x4444u));
}

// PTX prmt in its default mode: byte n of the result is byte (sel >> 4n) & 7 of {b, a} (a the
// low word), or, where bit 3 of that nibble is set, that byte's sign bit copied over all 8 bits.
// (CUDA documents only the 3 low bits for __byte_perm, so the sign mode is asked for directly.)
__device__ __forceinline__ uint32_t prmt_signed(uint32_t a, uint32_t b, uint32_t sel) {
  uint32_t r;
  asm("prmt.b32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(sel));
  return r;
}

// Entries 0..7 of the code book minus 1 (all negative: -128 .. -11), entry 4i + e in byte e of
// word i; and entries 15 - p (all positive) at place p, for selectors made of complemented nibbles.
constexpr uint32_t iq4_low_minus1_word(int i) { return iq4_pack_word(4 * i, 1, -1); }
constexpr uint32_t iq4_high_reversed_word(int i) { return iq4_pack_word(15 - 4 * i, -1, 0); }

// The code book in two parts that add up, for two __dp4a instead of a third permute:
// for the nibbles n of sel's low 16 bits (index q each), byte n of `low` is v(q) - 1 where q < 8 and
// -1 where q >= 8 (bit 3 set: the sign of a negative entry), and byte n of `high` (selected by the
// complemented nibble 15 - q) is v(q) where q >= 8 and 0 where q < 8 (the sign of a positive
// entry). So low + high = v(q) - 1 for every byte, and for int8 activations y
//   sum v(q) y = dp4a(low, y) + dp4a(high, y) + sum y.
struct Iq4Parts {
  uint32_t low, high;
};

// prmt_signed's byte for one selector nibble, on the host: the identity above checked for all 16
// indices when this header compiles.
constexpr int prmt_signed_byte(uint32_t a, uint32_t b, uint32_t nibble) {
  const uint64_t src = (static_cast<uint64_t>(b) << 32) | a;
  const auto byte = static_cast<uint8_t>(src >> (8 * (nibble & 7)));
  return (nibble & 8) ? ((byte & 0x80) ? -1 : 0) : static_cast<int8_t>(byte);
}
constexpr bool iq4_parts_add_up() {
  for (uint32_t q = 0; q < 16; ++q) {
    const int low = prmt_signed_byte(iq4_low_minus1_word(0), iq4_low_minus1_word(1), q);
    const int high = prmt_signed_byte(iq4_high_reversed_word(0), iq4_high_reversed_word(1), 15 - q);
    if (low + high != quant::kIq4nlValues[q] - 1) return false;
  }
  return true;
}
static_assert(iq4_parts_add_up(), "the two IQ4 lookup parts must add up to v(q) - 1");
__device__ __forceinline__ Iq4Parts iq4_parts_of_nibbles(uint32_t sel, uint32_t not_sel) {
  constexpr uint32_t l0 = iq4_low_minus1_word(0), l1 = iq4_low_minus1_word(1);
  constexpr uint32_t h0 = iq4_high_reversed_word(0), h1 = iq4_high_reversed_word(1);
  return {prmt_signed(l0, l1, sel), prmt_signed(h0, h1, not_sel)};
}

// A word of packed nibbles as IQ4_NL / IQ4_XS sub-blocks hold them (byte i: element i in the
// low nibble, element 16 + i in the high one; i = 0..3 of this word): lo = the values of
// elements 0..3, hi = those of 16..19, one int8 per byte, ready for __dp4a.
__device__ __forceinline__ void iq4_values_of_word(uint32_t w, uint32_t& lo, uint32_t& hi) {
  const uint32_t a = iq4_values_of_nibbles(w);        // elements 0, 16, 1, 17
  const uint32_t b = iq4_values_of_nibbles(w >> 16);  // elements 2, 18, 3, 19
  lo = __byte_perm(a, b, 0x6420u);
  hi = __byte_perm(a, b, 0x7531u);
}

// The signed 6-bit scale minus 32 of IQ4_XS sub-block s (0..7): low 4 bits from scales_l
// (two per byte, sub-block 2j in the low nibble of byte j), top 2 from scales_h (2 bits each).
__device__ __forceinline__ int iq4_xs_scale(uint32_t scales_l, uint32_t scales_h, int s) {
  const uint32_t lo = (scales_l >> (4 * s)) & 0xFu;  // byte s / 2, nibble s % 2: bits 4 s
  const uint32_t hi = (scales_h >> (2 * s)) & 3u;
  return static_cast<int>(lo | (hi << 4)) - 32;
}

}  // namespace quarrel::cuda
