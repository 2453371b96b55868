// Every quantizer on random data at several sizes: the round trip error is what the format
// allows, the result is deterministic, and the generic entry points match the typed ones.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "common/random.h"
#include "core/error.h"
#include "quant/quant.h"
#include "quant/quantize_model.h"

namespace quarrel::quant {
namespace {

struct Bound {
  GgmlType type;
  double max_rel_rmse;  // RMSE / RMS of the data, for Gaussian data
};

// The worst of 30 seeds on Gaussian data (most of it at one block) plus 30%; a quantizer that got its search wrong
// lands far above these.
constexpr Bound kBounds[] = {
    {GgmlType::F32, 0.0},      {GgmlType::F16, 4e-4},    {GgmlType::BF16, 3.5e-3}, {GgmlType::Q8_0, 0.01},
    {GgmlType::Q8_1, 0.01},    {GgmlType::Q8_K, 0.012},  {GgmlType::Q6_K, 0.033},  {GgmlType::Q5_K, 0.053},
    {GgmlType::Q5_1, 0.065},   {GgmlType::Q5_0, 0.085},  {GgmlType::Q4_K, 0.1},    {GgmlType::Q4_1, 0.14},
    {GgmlType::Q4_0, 0.16},    {GgmlType::IQ4_NL, 0.125}, {GgmlType::IQ4_XS, 0.125}, {GgmlType::Q3_K, 0.21},
    {GgmlType::Q2_K, 0.43},    {GgmlType::MXFP4, 0.2},
};

std::vector<float> gaussian(std::mt19937_64& rng, size_t n, float sigma) {
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

std::vector<float> round_trip(GgmlType t, const std::vector<float>& x, std::vector<uint8_t>* bytes = nullptr) {
  std::vector<uint8_t> q(row_bytes(t, x.size()), 0xAB);
  quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()));
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(y.size()));
  if (bytes) *bytes = std::move(q);
  return y;
}

double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    s += double(x[i]) * x[i];
  }
  return s > 0 ? std::sqrt(e / s) : std::sqrt(e);
}

class RoundTrip : public ::testing::TestWithParam<Bound> {};

TEST_P(RoundTrip, ErrorWithinFormatBoundAtSeveralSizes) {
  const auto [type, bound] = GetParam();
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  const int64_t bs = traits(type).block_size == 1 ? 32 : traits(type).block_size;
  for (int64_t blocks : {1, 2, 7, 33}) {
    for (float sigma : {1e-3f, 0.02f, 1.0f, 300.0f}) {
      const auto x = gaussian(rng, static_cast<size_t>(blocks * bs), sigma);
      const auto y = round_trip(type, x);
      const double r = rel_rmse(x, y);
      EXPECT_LE(r, bound) << type_name(type) << " blocks=" << blocks << " sigma=" << sigma << " seed=" << seed;
      for (float v : y) ASSERT_TRUE(std::isfinite(v)) << type_name(type);
    }
  }
}

TEST_P(RoundTrip, DeterministicAndThreadIndependent) {
  const GgmlType type = GetParam().type;
  std::mt19937_64 rng(test::test_seed());
  const int64_t per_row = traits(type).block_size == 1 ? 64 : 2 * traits(type).block_size;
  const int64_t rows = 37;
  const auto x = gaussian(rng, static_cast<size_t>(per_row * rows), 0.05f);
  std::vector<uint8_t> a, b;
  round_trip(type, x, &a);
  round_trip(type, x, &b);
  EXPECT_EQ(a, b) << type_name(type);
  for (int threads : {1, 2, 3}) {
    std::vector<uint8_t> c(a.size(), 0x5A);
    convert_rows(GgmlType::F32, x.data(), type, c.data(), rows, per_row, threads);
    EXPECT_EQ(a, c) << type_name(type) << " threads=" << threads;
  }
}

TEST_P(RoundTrip, ZerosStayZeros) {
  const GgmlType type = GetParam().type;
  const int64_t n = traits(type).block_size == 1 ? 64 : 2 * traits(type).block_size;
  const std::vector<float> x(static_cast<size_t>(n), 0.0f);
  for (float v : round_trip(type, x)) EXPECT_EQ(v, 0.0f) << type_name(type);
}

TEST_P(RoundTrip, ConstantAndOutlierBlocks) {
  const GgmlType type = GetParam().type;
  const int64_t n = traits(type).block_size == 1 ? 64 : 2 * traits(type).block_size;
  std::vector<float> x(static_cast<size_t>(n), 0.25f);
  auto y = round_trip(type, x);
  for (float v : y) EXPECT_TRUE(std::isfinite(v));
  EXPECT_LE(rel_rmse(x, y), std::max(GetParam().max_rel_rmse, 0.02)) << type_name(type);
  x.assign(static_cast<size_t>(n), 1e-3f);
  x[5] = 50.0f;
  x[static_cast<size_t>(n) - 3] = -70.0f;
  y = round_trip(type, x);
  for (float v : y) EXPECT_TRUE(std::isfinite(v));
  // The outliers dominate the scale; they themselves must survive.
  EXPECT_NEAR(y[5], 50.0f, 50.0f * std::max(2 * GetParam().max_rel_rmse, 0.02)) << type_name(type);
  EXPECT_NEAR(y[static_cast<size_t>(n) - 3], -70.0f, 70.0f * std::max(2 * GetParam().max_rel_rmse, 0.02))
      << type_name(type);
}

INSTANTIATE_TEST_SUITE_P(Types, RoundTrip, ::testing::ValuesIn(kBounds),
                         [](const auto& p) { return std::string(type_name(p.param.type)); });

TEST(Quant, EveryQuantizableTypeHasABound) {
  for (uint32_t id = 0; id < 64; ++id) {
    const auto tr = ggml_type_traits(id);
    if (!tr) continue;
    const auto t = static_cast<GgmlType>(id);
    if (!can_quantize(t)) continue;
    bool found = false;
    for (const auto& b : kBounds) found |= b.type == t;
    EXPECT_TRUE(found) << tr->name;
  }
}

TEST(Quant, RejectsPartialBlocksAndUnknownTypes) {
  std::vector<float> x(300, 1.0f);
  std::vector<uint8_t> q(4096);
  try {
    quantize_row(GgmlType::Q4_K, x.data(), q.data(), 300);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(std::string(e.what()).find("block size 256"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dequantize_row(GgmlType::Q4_0, q.data(), x.data(), 33), Error);
  try {
    dequantize_row(GgmlType::IQ2_XXS, q.data(), x.data(), 256);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
  }
  EXPECT_THROW(quantize_row(GgmlType::TQ1_0, x.data(), q.data(), 256), Error);
}

TEST(Quant, SupportedTypes) {
  const GgmlType want[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,   GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,   GgmlType::Q3_K,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
                           GgmlType::MXFP4};
  for (auto t : want) EXPECT_TRUE(is_supported(t)) << type_name(t);
  EXPECT_EQ(supported_types().size(), std::size(want));
  for (auto t : {GgmlType::IQ2_XXS, GgmlType::IQ1_S, GgmlType::IQ3_S, GgmlType::TQ2_0, GgmlType::I32, GgmlType::F64,
                 GgmlType::Q8_1, GgmlType::Q8_K})
    EXPECT_FALSE(is_supported(t)) << type_name(t);
  EXPECT_TRUE(can_dequantize(GgmlType::Q8_K));
  EXPECT_TRUE(can_quantize(GgmlType::Q8_1));
}

TEST(Quant, RequireSupportedNamesTensorAndType) {
  EXPECT_NO_THROW(require_supported("blk.0.attn_q.weight", GgmlType::Q4_K));
  try {
    require_supported("blk.0.attn_q.weight", GgmlType::IQ2_XXS);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_STREQ(e.what(), "tensor 'blk.0.attn_q.weight' has type IQ2_XXS, which Quarrel cannot compute with");
  }
}

}  // namespace
}  // namespace quarrel::quant
