#pragma once
// The IQ4_NL / IQ4_XS code book on the device, four values per lookup: the 16 int8 entries
// (quant/blocks.h's kIq4nlValues) packed into four words, and __byte_perm picking bytes of
// them. Used by the dequantizer (dequant.cuh) and the int8 dot products (chunk_dot_q8.cuh).
#include <cstdint>

#include "quant/blocks.h"

namespace quarrel::cuda {

// Entries 4i .. 4i + 3 of the code book, one per byte (entry 4i in the low byte).
constexpr uint32_t iq4_table_word(int i) {
  uint32_t w = 0;
  for (int e = 0; e < 4; ++e) w |= static_cast<uint32_t>(static_cast<uint8_t>(quant::kIq4nlValues[4 * i + e])) << (8 * e);
  return w;
}

// Byte n of the result: the code book entry of nibble n of sel's low 16 bits (int8).
__device__ __forceinline__ uint32_t iq4_values_of_nibbles(uint32_t sel) {
  constexpr uint32_t t0 = iq4_table_word(0), t1 = iq4_table_word(1), t2 = iq4_table_word(2), t3 = iq4_table_word(3);
  const uint32_t low3 = sel & 0x7777u;             // an entry's place among 8
  const uint32_t first = __byte_perm(t0, t1, low3);  // as if every index were < 8
  const uint32_t second = __byte_perm(t2, t3, low3);  // as if every index were >= 8
  // Bit 3 of an index, moved to bit 2 of its selector, takes byte n of `second` (n + 4).
  return __byte_perm(first, second, 0x3210u | ((sel >> 1) & 0x4444u));
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
