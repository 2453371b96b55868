// The reference harness's weight generator against published test vectors (FNV-1a 64 and
// splitmix64) and against values computed independently with Python integers.
#include <gtest/gtest.h>

#include <cstring>

#include "reference/weight_gen.h"

namespace quarrel::test::refweights {
namespace {

uint32_t bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

TEST(WeightGen, Fnv1a64KnownVectors) {
  EXPECT_EQ(fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar"), 0x85944171f73967e8ull);
}

TEST(WeightGen, Splitmix64KnownSequence) {
  // splitmix64 seeded with 0: the state advances by the golden gamma before each output.
  EXPECT_EQ(splitmix64(0), 0xe220a8397b1dcdafull);
  EXPECT_EQ(splitmix64(0x9E3779B97F4A7C15ull), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(splitmix64(0x9E3779B97F4A7C15ull * 2), 0x06c45d188009454full);
}

TEST(WeightGen, ValuesMatchAnIndependentComputation) {
  // From Python: u = mix((fnv(name) + i) mod 2^64); x = 2 * (u >> 11) * 2^-53 - 1;
  // float32(offset + scale * x).
  EXPECT_EQ(bits(value("model.embed_tokens.weight", 0, 0.1, 0.0)), 0xbcd2e0b0u);  // -0.025741904973983765
  EXPECT_EQ(bits(value("model.embed_tokens.weight", 12345, 0.1, 0.0)), 0x3d9f100du);  // 0.07766733318567276
  EXPECT_EQ(bits(value("model.norm.weight", 7, 0.1, 1.0)), 0x3f76726fu);  // 0.9626836180686951
  EXPECT_FLOAT_EQ(value("model.embed_tokens.weight", 0, 0.1, 0.0), -0.025741904973983765f);
}

TEST(WeightGen, FillAgreesWithValueAndStaysInRange) {
  std::vector<float> v(1000);
  fill("blk", 0.05, 1.0, 0, 500, v.size(), v.data());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(bits(v[i]), bits(value("blk", 500 + i, 0.05, 1.0))) << i;
    EXPECT_GE(v[i], 0.95f);
    EXPECT_LT(v[i], 1.05f);
  }
}

TEST(WeightGen, UniformIsSpreadOverMinusOneToOne) {
  double sum = 0, sum2 = 0, lo = 1, hi = -1;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) {
    const double u = uniform("spread", static_cast<uint64_t>(i));
    sum += u;
    sum2 += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  EXPECT_NEAR(sum / kN, 0.0, 0.01);
  EXPECT_NEAR(sum2 / kN, 1.0 / 3.0, 0.01);  // variance of U(-1, 1)
  EXPECT_LT(lo, -0.999);
  EXPECT_GT(hi, 0.999);
  EXPECT_NE(uniform("spread", 0, 1), uniform("spread", 0, 0));  // the salt changes the stream
}

}  // namespace
}  // namespace quarrel::test::refweights
