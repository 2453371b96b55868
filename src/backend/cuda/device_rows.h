#pragma once
// How weight rows are laid out on the device. Plain C++17 (kernels and host code include it).
//
// Most types keep their GGUF blocks. The three whose GGUF blocks are only 2-byte aligned (Q4_0:
// 18 bytes, Q8_0: 34, Q6_K: 210) are stored split, so that the kernels read their quants with
// aligned 16-byte loads (one load where a GGUF block needed five to ten) and a warp's loads are
// contiguous. A row of nb blocks:
//   Q4_0: qs[16] of each block        | d (f16) of each block
//   Q8_0: qs[32] of each block        | d of each block
//   Q6_K: ql[128] qh[64] of each block | scales[16] (int8) of each block | d of each block
// each part in block order, then zeros up to a multiple of 16 bytes, so every row starts
// 16-byte aligned. The byte contents are GGUF's, only moved.
#include <cstddef>
#include <cstdint>

namespace quarrel::cuda {

// Where the parts of a split row start (block b of nb). The quant bytes of block b are at
// quants(b); Q6_K's are ql then qh.
template <uint32_t QuantBytes, uint32_t ScaleBytes>
struct SplitRow {
  static constexpr uint32_t kQuantBytes = QuantBytes;  // per block
  static constexpr uint32_t kScaleBytes = ScaleBytes;  // int8 sub-scales per block (Q6_K), before the f16 d
  static constexpr size_t quants(int64_t b) { return static_cast<size_t>(b) * QuantBytes; }
  static constexpr size_t scales(int64_t b, int64_t nb) { return static_cast<size_t>(nb) * QuantBytes + static_cast<size_t>(b) * ScaleBytes; }
  static constexpr size_t d(int64_t b, int64_t nb) { return static_cast<size_t>(nb) * (QuantBytes + ScaleBytes) + 2 * static_cast<size_t>(b); }
};
using SplitQ4_0 = SplitRow<16, 0>;
using SplitQ8_0 = SplitRow<32, 0>;
using SplitQ6_K = SplitRow<192, 16>;

// Whether the device stores rows of this type split.
bool split_rows(uint32_t type);
// Bytes of one device row of k elements (k a multiple of the type's block size).
size_t device_row_bytes(uint32_t type, int64_t k);
// dst = the n GGUF rows at src (k elements each, packed) in the device layout
// (n * device_row_bytes(type, k) bytes). Types that are not split are copied as they are.
void to_device_rows(uint32_t type, int64_t k, int64_t n, const uint8_t* src, uint8_t* dst);

}  // namespace quarrel::cuda
