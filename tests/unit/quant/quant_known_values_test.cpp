// Hand-built blocks with known values, the activation formats' side fields (Q8_1 s, Q8_K
// bsums), and the F16 / BF16 rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "core/fp16.h"
#include "quant/quant.h"

namespace quarrel::quant {
namespace {

TEST(KnownValues, Q4_0) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row_q4_0(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8));
  }
  // Quantizing exactly representable values gives them back.
  float back[32];
  BlockQ4_0 q;
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = 0.25f * static_cast<float>((j % 16) - 8);
  quantize_row_q4_0(x, &q, 32);
  EXPECT_EQ(fp16_to_f32(q.d), 0.25f);  // d = max / -8 with max = -2
  dequantize_row_q4_0(&q, back, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]);
}

TEST(KnownValues, Q4_1AndQ5Formats) {
  BlockQ4_1 b{};
  b.d = f32_to_fp16(2.0f);
  b.m = f32_to_fp16(-1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | (j << 4));
  float y[32];
  dequantize_row_q4_1(&b, y, 32);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[j], 2.0f * j - 1.0f);

  BlockQ5_0 c{};
  c.d = f32_to_fp16(1.0f);
  const uint32_t qh = 0x80000001u;  // 5th bit of elements 0 and 31
  std::memcpy(c.qh, &qh, 4);
  dequantize_row_q5_0(&c, y, 32);
  EXPECT_EQ(y[0], 0.0f);     // 16 - 16
  EXPECT_EQ(y[1], -16.0f);   // 0 - 16
  EXPECT_EQ(y[31], 0.0f);
  BlockQ5_1 e{};
  e.d = f32_to_fp16(1.0f);
  e.m = f32_to_fp16(0.5f);
  std::memcpy(e.qh, &qh, 4);
  e.qs[15] = 0xF0;  // element 31: low nibble 15, high bit set -> 31
  dequantize_row_q5_1(&e, y, 32);
  EXPECT_EQ(y[0], 16.5f);
  EXPECT_EQ(y[31], 31.5f);
}

TEST(KnownValues, Q8_0AndQ8_1) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) / 16.0f;  // amax = 1 at j = 0
  BlockQ8_0 a;
  quantize_row_q8_0(x, &a, 32);
  EXPECT_EQ(a.d, f32_to_fp16(1.0f / 127));
  EXPECT_EQ(a.qs[0], -127);
  EXPECT_EQ(a.qs[16], 0);
  EXPECT_EQ(a.qs[20], 32);  // 0.25 * 127 = 31.75
  EXPECT_EQ(a.qs[31], 119);  // 15/16 * 127 = 119.06
  BlockQ8_1 b;
  quantize_row_q8_1(x, &b, 32);
  EXPECT_EQ(std::memcmp(a.qs, b.qs, 32), 0);
  EXPECT_EQ(a.d, b.d);
  int sum = 0;
  for (int8_t q : b.qs) sum += q;
  EXPECT_EQ(b.s, f32_to_fp16(static_cast<float>(sum) * fp16_to_f32(b.d)));
  float y[32];
  dequantize_row_q8_1(&b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], b.qs[j] * fp16_to_f32(b.d));
}

TEST(KnownValues, Q8_KBsums) {
  std::vector<float> x(512);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * static_cast<float>(i)) * (i < 256 ? 3.0f : 0.01f);
  BlockQ8_K b[2];
  quantize_row_q8_K(x.data(), b, 512);
  for (const auto& blk : b) {
    int amax = 0;
    for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::abs(int{blk.qs[j]}));
    EXPECT_EQ(amax, 127);
    for (int g = 0; g < QK_K / 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += blk.qs[16 * g + j];
      EXPECT_EQ(blk.bsums[g], s);
    }
  }
  std::vector<float> y(512);
  dequantize_row_q8_K(b, y.data(), 512);
  for (size_t i = 0; i < 512; ++i) EXPECT_NEAR(y[i], x[i], std::fabs(b[i / 256].d) * 0.51f);
  // All zero: d = 0, no garbage in the sums.
  std::vector<float> z(256, 0.0f);
  BlockQ8_K zb;
  std::memset(&zb, 0x7F, sizeof zb);
  quantize_row_q8_K(z.data(), &zb, 256);
  EXPECT_EQ(zb.d, 0.0f);
  for (auto s : zb.bsums) EXPECT_EQ(s, 0);
}

TEST(KnownValues, Q4_KScalesAndMins) {
  BlockQ4_K b{};
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  // Sub-block j: scale j + 1, min 2 * j; sub-blocks 4..7 use the high-bit packing.
  for (int j = 0; j < 8; ++j) {
    const uint8_t sc = static_cast<uint8_t>(j + 1 + (j >= 4 ? 32 : 0)), m = static_cast<uint8_t>(2 * j);
    if (j < 4) {
      b.scales[j] = sc;
      b.scales[j + 4] = m;
    } else {
      b.scales[j + 4] = static_cast<uint8_t>((sc & 0xF) | ((m & 0xF) << 4));
      b.scales[j - 4] |= static_cast<uint8_t>((sc >> 4) << 6);
      b.scales[j] |= static_cast<uint8_t>((m >> 4) << 6);
    }
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = 0x73;  // low nibble 3, high nibble 7
  float y[256];
  dequantize_row_q4_K(&b, y, 256);
  for (int j = 0; j < 8; ++j) {
    const float sc = static_cast<float>(j + 1 + (j >= 4 ? 32 : 0)), m = static_cast<float>(2 * j);
    const float q = j % 2 == 0 ? 3.0f : 7.0f;  // even sub-blocks take the low nibbles
    EXPECT_EQ(y[32 * j + 5], 0.5f * sc * q - 0.25f * m) << j;
  }
}

TEST(KnownValues, Q6_KAndQ3_K) {
  BlockQ6_K b{};
  b.d = f32_to_fp16(0.125f);
  for (int i = 0; i < 16; ++i) b.scales[i] = static_cast<int8_t>(i - 8);
  // Every quant 63 (ql nibble 15, qh bits 3) -> 63 - 32 = 31.
  std::memset(b.ql, 0xFF, sizeof b.ql);
  std::memset(b.qh, 0xFF, sizeof b.qh);
  float y[256];
  dequantize_row_q6_K(&b, y, 256);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], 0.125f * static_cast<float>(i / 16 - 8) * 31.0f) << i;

  BlockQ3_K c{};
  c.d = f32_to_fp16(1.0f);
  // All 16 scales 33 (6-bit 33 -> 33 - 32 = 1): low nibble 1, high bits 2.
  for (int j = 0; j < 8; ++j) c.scales[j] = 0x11;
  for (int j = 8; j < 12; ++j) c.scales[j] = 0xAA;
  std::memset(c.hmask, 0xFF, sizeof c.hmask);  // high bit set: no -4
  std::memset(c.qs, 0xE4, sizeof c.qs);        // 2-bit fields 0,1,2,3 by shift
  dequantize_row_q3_K(&c, y, 256);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], static_cast<float>((i % 128) / 32)) << i;
  std::memset(c.hmask, 0, sizeof c.hmask);
  dequantize_row_q3_K(&c, y, 256);
  for (int i = 0; i < 256; ++i) EXPECT_EQ(y[i], static_cast<float>((i % 128) / 32 - 4)) << i;
}

TEST(KnownValues, Iq4AndMxfp4Tables) {
  BlockIQ4_NL b{};
  b.d = f32_to_fp16(1.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[256];
  dequantize_row_iq4_nl(&b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], kIq4nlValues[j]);
    EXPECT_EQ(y[j + 16], kIq4nlValues[15 - j]);
  }
  BlockIQ4_XS c{};
  c.d = f32_to_fp16(0.5f);
  // ls = 32 + ib (ib = 0..7): low nibbles ib, high bits 2 (= 32 >> 4).
  for (int ib = 0; ib < 8; ++ib) {
    c.scales_l[ib / 2] |= static_cast<uint8_t>(ib << (4 * (ib % 2)));
    c.scales_h |= static_cast<uint16_t>(2 << (2 * ib));
  }
  std::memset(c.qs, 0x0F, sizeof c.qs);  // low nibble 15 (113), high nibble 0 (-127)
  dequantize_row_iq4_xs(&c, y, 256);
  for (int ib = 0; ib < 8; ++ib) {
    EXPECT_EQ(y[32 * ib], 0.5f * ib * 113.0f);
    EXPECT_EQ(y[32 * ib + 16], 0.5f * ib * -127.0f);
  }
  BlockMXFP4 m{};
  m.e = 127;  // 2^0, halved to match the doubled table
  for (int j = 0; j < 16; ++j) m.qs[j] = static_cast<uint8_t>(j);
  dequantize_row_mxfp4(&m, y, 32);
  const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int j = 0; j < 16; ++j) EXPECT_EQ(y[j], e2m1[j]) << j;
  EXPECT_EQ(e8m0_to_f32_half(0), std::ldexp(1.0f, -128));
  EXPECT_EQ(e8m0_to_f32_half(1), std::ldexp(1.0f, -127));
  EXPECT_EQ(e8m0_to_f32_half(254), std::ldexp(1.0f, 126));
  EXPECT_EQ(e8m0_to_f32(127), 1.0f);
  // Values on the E2M1 grid quantize exactly.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = e2m1[j % 16] * 4.0f;
  BlockMXFP4 q;
  quantize_row_mxfp4(x, &q, 32);
  dequantize_row_mxfp4(&q, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], x[j]) << j;
}

TEST(KnownValues, F16AndBf16Rounding) {
  const float x[] = {1.0f + std::ldexp(1.0f, -11),      // halfway: even (1.0) in F16
                     1.0f + 3 * std::ldexp(1.0f, -11),  // halfway: even (1 + 2^-9) in F16
                     1.0f + std::ldexp(1.0f, -8),       // halfway in BF16: even (1.0)
                     1.0f + 3 * std::ldexp(1.0f, -8),   // halfway in BF16: even (1 + 2^-6)
                     65520.0f,                          // rounds to F16 infinity
                     -0.0f,
                     std::numeric_limits<float>::infinity(),
                     std::numeric_limits<float>::quiet_NaN()};
  constexpr int n = 8;
  uint16_t h[n], b[n];
  quantize_row(GgmlType::F16, x, h, n);
  quantize_row(GgmlType::BF16, x, b, n);
  float yh[n], yb[n];
  dequantize_row(GgmlType::F16, h, yh, n);
  dequantize_row(GgmlType::BF16, b, yb, n);
  EXPECT_EQ(yh[0], 1.0f);
  EXPECT_EQ(yh[1], 1.0f + std::ldexp(1.0f, -9));
  EXPECT_EQ(yb[2], 1.0f);
  EXPECT_EQ(yb[3], 1.0f + std::ldexp(1.0f, -6));
  EXPECT_TRUE(std::isinf(yh[4]) && yh[4] > 0);
  EXPECT_EQ(h[5], 0x8000);
  EXPECT_EQ(b[5], 0x8000);
  EXPECT_TRUE(std::isinf(yh[6]) && std::isinf(yb[6]));
  EXPECT_TRUE(std::isnan(yh[7]) && std::isnan(yb[7]));
  // F32 copies bit for bit.
  float c[n];
  quantize_row(GgmlType::F32, x, c, n);
  EXPECT_EQ(std::memcmp(c, x, sizeof x), 0);
}

}  // namespace
}  // namespace quarrel::quant
