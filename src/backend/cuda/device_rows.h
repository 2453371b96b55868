#pragma once
// How weight rows are laid out on the device. Plain C++17 (kernels and host code include it).
//
// F16, BF16 and F32 keep their GGUF rows. Q4_0, Q8_0, Q4_K, Q5_K, Q6_K and IQ4_XS rows are split,
// so that the kernels read quants with aligned 16-byte loads (GGUF's Q4_0, Q8_0 and Q6_K blocks are only
// 2-byte aligned: 18, 34 and 210 bytes; IQ4_XS's 136 8-byte aligned) and a warp's loads are
// contiguous. A row of nb blocks:
//   Q4_0: qs[16] of each block               | d (f16) of each block
//   Q8_0: qs[32] of each block (interleaved)  | d of each block
//   Q4_K: qs[128] of each block (interleaved) | d, dmin, scales[12] of each block (16 bytes)
//   Q6_K: ql[128] of each block (interleaved) | qh[64] of each block (per unit) | scales[16] (int8)
//         of each block | d of each block
//   Q5_K: qs[128] of each block (interleaved) | qh[32] of each block (regrouped per unit) | d,
//         dmin, scales[12] of each block (16 bytes)
//   IQ4_XS: qs[128] of each block (interleaved) | d, scales_h, scales_l[4] of each block (8 bytes)
// each part in block order, then zeros up to a multiple of 16 bytes, so every row starts
// 16-byte aligned. The bytes are GGUF's, only moved.
//
// Interleaved: the quants are 32-byte units (Q8_0: a block's; Q4_K: qs[32 j ..], the nibbles of
// sub-blocks 2j and 2j + 1; IQ4_XS: qs[32 j ..], sub-blocks 2j and 2j + 1 of 16 bytes each),
// each read by one thread as two 16-byte halves. Units go in groups of 32, a warp's: a group of m units holds the first halves of all m, then their second halves, so
// each warp-wide load of a half reads 512 contiguous bytes. Q6_K's units are ql[64 h + 32 q ..]
// (u = 4 b + 2 h + q: the low 4 bits of chunks q and q + 2 of half h); their top 2 bits go to
// 16 bytes of their own (q6k_tops): element l's 2-bit tops of chunk q, then of chunk q + 2, as
// one nibble; word i's byte e holds element 4 i + e in its low nibble and 16 + 4 i + e in its high.
// Q5_K's units are Q4_K's (qs[32 j ..]: the low 4 bits of sub-blocks 2j and 2j + 1); their fifth
// bits go to 8 bytes of their own (q5k_highs): two words, sub-block 2j's then 2j + 1's, element
// 4 i + e's bit at bit 8 e + i, so that (word >> i) & 0x01010101 puts the bits of elements
// 4i .. 4i + 3 at the bottom of their bytes.
#include <cstddef>
#include <cstdint>

namespace quarrel::cuda {

// Offset of half h (0, 1) of interleaved unit u of a row of n_units.
constexpr size_t unit_half(int64_t u, int64_t n_units, int h) {
  const int64_t g = u >> 5, i = u & 31;
  const int64_t m = n_units - 32 * g < 32 ? n_units - 32 * g : 32;
  return static_cast<size_t>(1024 * g + 16 * (h * m + i));
}

// Where the parts of a split row start (block b of nb). Quants of block b at quants(b) (Q4_0),
// or as interleaved units (Q8_0: unit b; Q4_K and Q6_K: units 4b .. 4b + 3).
template <uint32_t QuantBytes, uint32_t ScaleBytes>
struct SplitRow {
  static constexpr uint32_t kQuantBytes = QuantBytes;  // per block
  static constexpr uint32_t kScaleBytes = ScaleBytes;  // per block, before the f16 d (Q4_K: d, dmin, scales)
  static constexpr size_t quants(int64_t b) { return static_cast<size_t>(b) * QuantBytes; }
  static constexpr size_t scales(int64_t b, int64_t nb) { return static_cast<size_t>(nb) * QuantBytes + static_cast<size_t>(b) * ScaleBytes; }
  static constexpr size_t d(int64_t b, int64_t nb) { return static_cast<size_t>(nb) * (QuantBytes + ScaleBytes) + 2 * static_cast<size_t>(b); }
};
using SplitQ4_0 = SplitRow<16, 0>;
using SplitQ8_0 = SplitRow<32, 0>;
using SplitQ4_K = SplitRow<128, 16>;  // scales(b, nb): the block's 16-byte header, d and dmin first (no d part)
using SplitQ6_K = SplitRow<192, 16>;  // quants: ql units, then the units' tops
using SplitQ5_K = SplitRow<160, 16>;  // quants: qs units, then the units' fifth bits; scales(b, nb): the header
using SplitIQ4_XS = SplitRow<128, 8>;  // scales(b, nb): the block's 8-byte header, d first (no d part)
// Offset of Q6_K unit u's 16 bytes of tops in a row of nb blocks.
constexpr size_t q6k_tops(int64_t u, int64_t nb) { return static_cast<size_t>(128 * nb + 16 * u); }
// Offset of Q5_K unit u's 8 bytes of fifth bits in a row of nb blocks.
constexpr size_t q5k_highs(int64_t u, int64_t nb) { return static_cast<size_t>(128 * nb + 8 * u); }

// Whether the device stores rows of this type split.
bool split_rows(uint32_t type);
// Bytes of one device row of k elements (k a multiple of the type's block size).
size_t device_row_bytes(uint32_t type, int64_t k);
// dst = the n GGUF rows at src (k elements each, packed) in the device layout
// (n * device_row_bytes(type, k) bytes). Types that are not split are copied as they are.
void to_device_rows(uint32_t type, int64_t k, int64_t n, const uint8_t* src, uint8_t* dst);

}  // namespace quarrel::cuda
