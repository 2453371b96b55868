#pragma once
// Block layouts of the quantized tensor types, byte-identical to ggml's (ggml-common.h).
// Every struct has no padding: its sizeof equals the type size in core/ggml_type.cpp, so an
// array of blocks can be laid directly over tensor data. fp16 scales are stored as uint16_t
// (decode with quarrel::fp16_to_f32 from core/fp16.h). The structs keep their natural
// alignment (2 for those with fp16 fields, 4 for BlockQ8_K); tensor data in GGUF is aligned
// far more than that, but code reading a block from an arbitrary byte address must memcpy.
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace quarrel::quant {

inline constexpr int QK4_0 = 32;
inline constexpr int QK4_1 = 32;
inline constexpr int QK5_0 = 32;
inline constexpr int QK5_1 = 32;
inline constexpr int QK8_0 = 32;
inline constexpr int QK8_1 = 32;
inline constexpr int QK4_NL = 32;
inline constexpr int QK_MXFP4 = 32;
// Super-block size of the k-quants and IQ4_XS.
inline constexpr int QK_K = 256;
// Bytes of packed 6-bit scales/mins in Q3_K / Q4_K / Q5_K.
inline constexpr int K_SCALE_SIZE = 12;

// ---- legacy 32-element blocks -------------------------------------------------------------

// x[j] = d * (q[j] - 8); q[j] = qs[j] & 0xF for j < 16, qs[j-16] >> 4 for j >= 16.
struct BlockQ4_0 {
  uint16_t d;                 // fp16 delta
  uint8_t qs[QK4_0 / 2];      // nibbles
};

// x[j] = d * q[j] + m
struct BlockQ4_1 {
  uint16_t d;                 // fp16 delta
  uint16_t m;                 // fp16 min
  uint8_t qs[QK4_1 / 2];
};

// x[j] = d * (q[j] - 16); the 5th bit of element j is bit j of qh (little-endian uint32).
struct BlockQ5_0 {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[QK5_0 / 2];
};

// x[j] = d * q[j] + m
struct BlockQ5_1 {
  uint16_t d;
  uint16_t m;
  uint8_t qh[4];
  uint8_t qs[QK5_1 / 2];
};

// x[j] = d * qs[j]
struct BlockQ8_0 {
  uint16_t d;
  int8_t qs[QK8_0];
};

// Activation format: x[j] = d * qs[j]; s = d * sum(qs) (fp16).
struct BlockQ8_1 {
  uint16_t d;
  uint16_t s;
  int8_t qs[QK8_1];
};

// ---- k-quants (256-element super-blocks) ----------------------------------------------------

// 16 sub-blocks of 16: x = d * (scales[i] & 0xF) * q - dmin * (scales[i] >> 4), q 2 bits.
struct BlockQ2_K {
  uint8_t scales[QK_K / 16];  // low nibble scale, high nibble min
  uint8_t qs[QK_K / 4];       // 2-bit quants
  uint16_t d;                 // fp16 super-block scale for scales
  uint16_t dmin;              // fp16 super-block scale for mins
};

// 16 sub-blocks of 16: x = d * (scale6 - 32) * (q - (hmask bit ? 0 : 4)), q 2 low bits.
struct BlockQ3_K {
  uint8_t hmask[QK_K / 8];    // high bit of the 3-bit quants
  uint8_t qs[QK_K / 4];       // low 2 bits
  uint8_t scales[12];         // 16 6-bit scales, packed
  uint16_t d;                 // fp16 super-block scale
};

// 8 sub-blocks of 32: x = d * sc * q - dmin * m; sc/m 6 bits packed in scales.
struct BlockQ4_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qs[QK_K / 2];
};

// As Q4_K with a 5th bit per quant in qh.
struct BlockQ5_K {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[K_SCALE_SIZE];
  uint8_t qh[QK_K / 8];
  uint8_t qs[QK_K / 2];
};

// 16 sub-blocks of 16: x = d * scales[i] * (q - 32), q 6 bits (4 in ql, 2 in qh).
struct BlockQ6_K {
  uint8_t ql[QK_K / 2];
  uint8_t qh[QK_K / 4];
  int8_t scales[QK_K / 16];
  uint16_t d;
};

// Activation format for k-quant dot products: x = d * qs; bsums[i] = sum of qs over the
// i-th group of 16.
struct BlockQ8_K {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16];
};

// ---- non-linear 4-bit -----------------------------------------------------------------------

// x[j] = d * kIq4nlValues[q[j]]; nibble order as Q4_0.
struct BlockIQ4_NL {
  uint16_t d;
  uint8_t qs[QK4_NL / 2];
};

// 8 sub-blocks of 32, 6-bit scales (low 4 bits in scales_l, high 2 in scales_h), offset -32:
// x = d * (ls - 32) * kIq4nlValues[q].
struct BlockIQ4_XS {
  uint16_t d;
  uint16_t scales_h;
  uint8_t scales_l[QK_K / 64];
  uint8_t qs[QK_K / 2];
};

// OCP MX FP4 (E2M1) with a shared E8M0 exponent: x[j] = e8m0_to_f32_half(e) * kMxfp4Values[q].
struct BlockMXFP4 {
  uint8_t e;
  uint8_t qs[QK_MXFP4 / 2];
};

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);
static_assert(sizeof(BlockIQ4_NL) == 18);
static_assert(sizeof(BlockIQ4_XS) == 136);
static_assert(sizeof(BlockMXFP4) == 17);

// ---- value tables ---------------------------------------------------------------------------

// IQ4_NL / IQ4_XS code book (ggml kvalues_iq4nl).
inline constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                            1,    13,   25,  38,  53,  69,  89,  113};

// MXFP4 E2M1 values, doubled so they are integers (ggml kvalues_mxfp4); the scale is halved
// to match (e8m0_to_f32_half).
inline constexpr int8_t kMxfp4Values[16] = {0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12};

// E8M0 exponent byte -> 2^(e - 127) / 2 as float32 (exact, also for e = 0 and 1, which are
// float32 subnormals). Bit-identical to ggml_e8m0_to_fp32_half.
inline float e8m0_to_f32_half(uint8_t e) {
  const uint32_t bits = e < 2 ? (0x00200000u << e) : (static_cast<uint32_t>(e - 1) << 23);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// E8M0 exponent byte -> 2^(e - 127) as float32 (e = 0 gives 2^-127, a subnormal; 0xFF NaN).
inline float e8m0_to_f32(uint8_t e) {
  const uint32_t bits = e == 0 ? 0x00400000u : (static_cast<uint32_t>(e) << 23);
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// Q4_K / Q5_K: the 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4));
  }
}

}  // namespace quarrel::quant
