// The host FP8 E4M3 converters (the reference of the CUDA fp8 KV cache) against hand-computed
// codes, every code's value, and a brute-force nearest-even search on random floats.
#include "core/fp8.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "common/random.h"

namespace quarrel {
namespace {

TEST(Fp8E4M3, HandComputedCodes) {
  EXPECT_EQ(f32_to_e4m3(0.0f), 0x00);
  EXPECT_EQ(f32_to_e4m3(-0.0f), 0x80);
  EXPECT_EQ(f32_to_e4m3(1.0f), 0x38);          // exponent 7 (bias 7), mantissa 0
  EXPECT_EQ(f32_to_e4m3(-2.0f), 0xC0);
  EXPECT_EQ(f32_to_e4m3(0.1f), 0x1D);          // 1.6 * 2^-4 -> 1.625 * 2^-4 = 0.1015625
  EXPECT_EQ(f32_to_e4m3(240.0f), 0x77);        // 1.875 * 2^7
  EXPECT_EQ(f32_to_e4m3(448.0f), 0x7E);        // largest finite
  EXPECT_EQ(f32_to_e4m3(-448.0f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(1.0625f), 0x38);       // halfway 1 / 1.125: to even (1)
  EXPECT_EQ(f32_to_e4m3(1.1875f), 0x3A);       // halfway 1.125 / 1.25: to even (1.25)
  EXPECT_EQ(f32_to_e4m3(1.07f), 0x39);         // past halfway: up
  EXPECT_EQ(f32_to_e4m3(15.5f), 0x58);         // halfway 15 / 16: to even, carries into 2^4
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -6)), 0x08);  // smallest normal
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -9)), 0x01);  // smallest subnormal
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -10)), 0x00);  // half the smallest subnormal: to even (0)
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.5f, -10)), 0x01);
  EXPECT_EQ(f32_to_e4m3(std::ldexp(3.0f, -10)), 0x02);  // 1.5 quanta: to even (2)
  EXPECT_EQ(f32_to_e4m3(std::ldexp(7.5f, -9)), 0x08);   // subnormal rounding up into the normals
  EXPECT_EQ(f32_to_e4m3(std::ldexp(1.0f, -30)), 0x00);
}

TEST(Fp8E4M3, SaturatesAndKeepsNaN) {
  EXPECT_EQ(f32_to_e4m3(449.0f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(500.0f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(1e30f), 0x7E);
  EXPECT_EQ(f32_to_e4m3(-1e30f), 0xFE);
  EXPECT_EQ(f32_to_e4m3(std::numeric_limits<float>::infinity()), 0x7E);
  EXPECT_EQ(f32_to_e4m3(-std::numeric_limits<float>::infinity()), 0xFE);
  EXPECT_EQ(f32_to_e4m3(std::nanf("")), 0x7F);
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0x7F)));
  EXPECT_TRUE(std::isnan(e4m3_to_f32(0xFF)));
}

TEST(Fp8E4M3, DecodesEveryCodeAndRoundTrips) {
  EXPECT_EQ(e4m3_to_f32(0x38), 1.0f);
  EXPECT_EQ(e4m3_to_f32(0x7E), 448.0f);
  EXPECT_EQ(e4m3_to_f32(0xFE), -448.0f);
  EXPECT_EQ(e4m3_to_f32(0x01), std::ldexp(1.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0x07), std::ldexp(7.0f, -9));
  EXPECT_EQ(e4m3_to_f32(0x08), std::ldexp(1.0f, -6));
  EXPECT_EQ(e4m3_to_f32(0x1D), 0.1015625f);
  EXPECT_TRUE(std::signbit(e4m3_to_f32(0x80)));
  float prev = -1.0f;
  for (int b = 0; b < 0x7F; ++b) {  // positive codes increase strictly, and each round-trips
    const float v = e4m3_to_f32(static_cast<uint8_t>(b));
    EXPECT_GT(v, prev) << b;
    prev = v;
    EXPECT_EQ(f32_to_e4m3(v), b);
    EXPECT_EQ(f32_to_e4m3(-v), b | 0x80);
    EXPECT_EQ(e4m3_to_f32(static_cast<uint8_t>(b | 0x80)), -v);
  }
}

// Nearest finite code by exhaustive search; ties to the even code (mantissa bit 0 clear).
uint8_t nearest_even(float f) {
  int best = 0;
  double best_d = INFINITY;
  for (int b = 0; b < 0x7F; ++b) {
    const double d = std::fabs(static_cast<double>(std::fabs(f)) - e4m3_to_f32(static_cast<uint8_t>(b)));
    if (d < best_d || (d == best_d && (b & 1) == 0)) best = b, best_d = d;
  }
  return static_cast<uint8_t>(best | (std::signbit(f) ? 0x80 : 0));
}

TEST(Fp8E4M3, RandomFloatsRoundToTheNearestEvenCode) {
  std::mt19937_64 rng(test::test_seed());
  std::uniform_real_distribution<float> expo(-12.0f, 9.5f);
  std::uniform_int_distribution<int> coin(0, 1);
  for (int i = 0; i < 20000; ++i) {
    const float f = std::exp2(expo(rng)) * (coin(rng) ? -1.0f : 1.0f);
    ASSERT_EQ(f32_to_e4m3(f), nearest_even(std::fabs(f) >= kE4M3Max ? std::copysign(kE4M3Max, f) : f)) << f;
  }
  for (int b = 0; b + 1 < 0x7F; ++b) {  // exact midpoints between neighbouring codes
    const float mid = (e4m3_to_f32(static_cast<uint8_t>(b)) + e4m3_to_f32(static_cast<uint8_t>(b + 1))) / 2;
    ASSERT_EQ(f32_to_e4m3(mid), (b & 1) ? b + 1 : b) << mid;
  }
}

}  // namespace
}  // namespace quarrel
