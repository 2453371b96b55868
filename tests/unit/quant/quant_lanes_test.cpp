// The k-quant quantizers run their group searches in vector lanes (4 on SSE2, 8 with AVX2);
// the bytes must equal those of the searches run one group at a time as the reference code
// reads (scalar_search), for both lane widths, on random data and on the blocks where the
// searches branch: zeros, constants, tiny values, one-signed groups, outliers.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "common/random.h"
#include "quant/quant.h"
#include "quant/scalar_search.h"

namespace quarrel::quant {
namespace {

// Super-blocks of awkward data, each 256 values.
std::vector<float> awkward_blocks(std::mt19937_64& rng) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v;
  auto block = [&](auto f) {
    for (int i = 0; i < 256; ++i) v.push_back(f(i));
  };
  block([](int) { return 0.0f; });
  block([](int) { return 0.5f; });
  block([](int) { return -0.5f; });
  block([](int) { return 1e-20f; });
  block([&](int i) { return i % 16 == 3 ? 1e-30f : 0.0f; });
  block([&](int i) { return std::fabs(nd(rng)) + (i % 32 == 0 ? 0.0f : 0.1f); });  // all >= 0
  block([&](int) { return -std::fabs(nd(rng)); });                                  // all <= 0
  block([&](int i) { return i == 77 ? 1000.0f : 1e-3f * nd(rng); });
  block([&](int i) { return (i / 16) % 2 ? 0.0f : nd(rng); });  // every other group empty
  block([&](int i) { return (i / 32) % 3 == 0 ? 0.25f : nd(rng) * 1e4f; });
  block([&](int i) { return static_cast<float>((i * 37) % 16 - 8); });  // on a grid
  block([&](int i) { return i % 2 ? 3.0f : -3.0f; });
  for (int k = 0; k < 20; ++k) {
    const float sigma = std::pow(10.0f, static_cast<float>(k % 10) - 5.0f);
    block([&](int) { return nd(rng) * sigma; });
  }
  return v;
}

template <typename Block, int64_t kBlock = QK_K>
void expect_same(const char* name, void (*lanes)(const float*, Block*, int64_t),
                 void (*scalar)(const float*, Block*, int64_t), const std::vector<float>& x) {
  const int64_t nb = static_cast<int64_t>(x.size()) / kBlock;
  std::vector<Block> a(static_cast<size_t>(nb)), b(static_cast<size_t>(nb));
  std::memset(a.data(), 0x11, a.size() * sizeof(Block));
  std::memset(b.data(), 0x22, b.size() * sizeof(Block));
  lanes(x.data(), a.data(), nb * kBlock);
  scalar(x.data(), b.data(), nb * kBlock);
  for (int64_t i = 0; i < nb; ++i)
    ASSERT_EQ(std::memcmp(&a[static_cast<size_t>(i)], &b[static_cast<size_t>(i)], sizeof(Block)), 0)
        << name << " differs in block " << i << " with " << scalar_search::lane_width() << " lanes";
}

void check_all(const std::vector<float>& x) {
  expect_same<BlockQ2_K>("Q2_K", quantize_row_q2_K, scalar_search::quantize_row_q2_K, x);
  expect_same<BlockQ4_K>("Q4_K", quantize_row_q4_K, scalar_search::quantize_row_q4_K, x);
  expect_same<BlockQ5_K>("Q5_K", quantize_row_q5_K, scalar_search::quantize_row_q5_K, x);
  expect_same<BlockQ6_K>("Q6_K", quantize_row_q6_K, scalar_search::quantize_row_q6_K, x);
  expect_same<BlockIQ4_XS>("IQ4_XS", quantize_row_iq4_xs, scalar_search::quantize_row_iq4_xs, x);
  expect_same<BlockIQ4_NL, QK4_NL>("IQ4_NL", quantize_row_iq4_nl, scalar_search::quantize_row_iq4_nl, x);
}

class LaneWidth : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() == 8 && !__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2 on this CPU";
    before_ = scalar_search::set_lane_width(GetParam());
  }
  void TearDown() override { scalar_search::set_lane_width(0); }
  int before_ = 0;
};


TEST_P(LaneWidth, SameBytesAsTheScalarSearch) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  ASSERT_EQ(scalar_search::lane_width(), GetParam());
  check_all(awkward_blocks(rng));
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (int rep = 0; rep < 20; ++rep) {
    std::vector<float> x(static_cast<size_t>(QK_K * (1 + rep % 5)));
    for (auto& v : x) v = nd(rng);
    check_all(x);
  }
}

INSTANTIATE_TEST_SUITE_P(Lanes, LaneWidth, ::testing::Values(4, 8),
                         [](const auto& p) { return p.param == 4 ? std::string("x4") : std::string("x8"); });

}  // namespace
}  // namespace quarrel::quant
