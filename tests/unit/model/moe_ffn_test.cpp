// The new FFN pieces of the CPU backend: top-k expert routing (cpu::moe_route) on hand-made
// router logits, the mixture-of-experts FFN (cpu::moe_ffn) and the gated FFN with GeGLU and
// fused gate/up (cpu::ffn_forward) against plain float64 loops on fresh random weights at
// several token counts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "backend/cpu/ffn.h"
#include "backend/cpu/moe.h"
#include "common/random.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace quarrel {
namespace {

TEST(MoeRoute, SoftmaxThenTopKRenormalised) {
  const float logits[] = {1.0f, 3.0f, 2.0f, 0.0f};
  int32_t ids[2];
  float w[2];
  cpu::moe_route(logits, 4, 2, true, ids, w);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 2);
  // Renormalised: a softmax over the two chosen logits.
  EXPECT_NEAR(w[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_NEAR(w[1], 1.0 / (1.0 + std::exp(1.0)), 1e-6);
}

TEST(MoeRoute, WithoutRenormalisationTheWeightsAreTheFullSoftmax) {
  const float logits[] = {1.0f, 3.0f, 2.0f, 0.0f};
  int32_t ids[2];
  float w[2];
  cpu::moe_route(logits, 4, 2, false, ids, w);
  const double sum = std::exp(1.0) + std::exp(3.0) + std::exp(2.0) + std::exp(0.0);
  EXPECT_EQ(ids[0], 1);
  EXPECT_EQ(ids[1], 2);
  EXPECT_NEAR(w[0], std::exp(3.0) / sum, 1e-6);
  EXPECT_NEAR(w[1], std::exp(2.0) / sum, 1e-6);
}

TEST(MoeRoute, TiesGoToTheLowerExpertAndLargeLogitsStayFinite) {
  const float tied[] = {-1.0f, 2.0f, 5.0f, 2.0f, 5.0f};
  int32_t ids[3];
  float w[3];
  cpu::moe_route(tied, 5, 3, true, ids, w);
  EXPECT_EQ(ids[0], 2);
  EXPECT_EQ(ids[1], 4);
  EXPECT_EQ(ids[2], 1);
  EXPECT_FLOAT_EQ(w[0], w[1]);
  EXPECT_NEAR(w[0] + w[1] + w[2], 1.0, 1e-6);

  const float big[] = {1000.0f, -1000.0f, 999.0f};
  cpu::moe_route(big, 3, 1, true, ids, w);
  EXPECT_EQ(ids[0], 0);
  EXPECT_FLOAT_EQ(w[0], 1.0f);
  cpu::moe_route(big, 3, 3, false, ids, w);
  EXPECT_EQ(ids[2], 1);
  EXPECT_NEAR(w[0], 1.0 / (1.0 + std::exp(-1.0)), 1e-6);
  EXPECT_EQ(w[2], 0.0f);
}

// A weight matrix [k, n] of a type, and its values as the kernels see them (dequantized).
struct Mat {
  std::vector<uint8_t> bytes;
  std::vector<double> values;  // n rows of k
};

Mat random_matrix(std::mt19937_64& rng, GgmlType type, int64_t k, int64_t n) {
  const auto f = test::random_floats(rng, static_cast<size_t>(k * n), -1.0f, 1.0f);
  Mat m;
  const uint64_t rb = row_bytes(type, static_cast<uint64_t>(k));
  m.bytes.resize(rb * static_cast<uint64_t>(n));
  std::vector<float> back(static_cast<size_t>(k));
  for (int64_t r = 0; r < n; ++r) {
    quant::quantize_row(type, f.data() + r * k, m.bytes.data() + static_cast<uint64_t>(r) * rb, k);
    quant::dequantize_row(type, m.bytes.data() + static_cast<uint64_t>(r) * rb, back.data(), k);
    m.values.insert(m.values.end(), back.begin(), back.end());
  }
  return m;
}

std::vector<double> matvec(const Mat& m, int64_t row0, int64_t rows, int64_t k, const double* x) {
  std::vector<double> y(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t c = 0; c < k; ++c) s += m.values[static_cast<size_t>((row0 + r) * k + c)] * x[c];
    y[static_cast<size_t>(r)] = s;
  }
  return y;
}

double silu(double g) { return g / (1.0 + std::exp(-g)); }
double gelu_tanh(double g) {
  return 0.5 * g * (1.0 + std::tanh(std::sqrt(2.0 / 3.141592653589793) * (g + 0.044715 * g * g * g)));
}

double rel_error(const std::vector<float>& got, const std::vector<double>& want) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(got[i]) - want[i]));
    ref = std::max(ref, std::abs(want[i]));
  }
  return diff / ref;
}

TEST(MoeFfn, MatchesFloat64ExpertsAtSeveralBatchSizes) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  ThreadPool pool(2);
  constexpr int64_t kEmbd = 64, kFf = 96, kExperts = 6;
  for (const GgmlType type : {GgmlType::F32, GgmlType::F16}) {
    for (const bool gelu : {false, true}) {
      for (const int64_t k_used : {1, 2, 6}) {
        const Mat router = random_matrix(rng, type, kEmbd, kExperts);
        const Mat gate = random_matrix(rng, type, kEmbd, kFf * kExperts);
        const Mat up = random_matrix(rng, type, kEmbd, kFf * kExperts);
        const Mat down = random_matrix(rng, type, kFf, kEmbd * kExperts);
        const cpu::WeightMatrix r{.type = type, .data = router.bytes.data(), .k = kEmbd, .n = kExperts};
        auto stacked = [&](const Mat& m, int64_t k, int64_t n) {
          return cpu::ExpertMatrices{.first = {.type = type, .data = m.bytes.data(), .k = k, .n = n},
                                     .stride = static_cast<size_t>(n) * row_bytes(type, static_cast<uint64_t>(k))};
        };
        const cpu::MoeWeights w{.router = r,
                                .gate = stacked(gate, kEmbd, kFf),
                                .up = stacked(up, kEmbd, kFf),
                                .down = stacked(down, kFf, kEmbd),
                                .n_expert = kExperts,
                                .n_used = k_used,
                                .normalize = k_used != 2,
                                .gelu = gelu};
        for (const int64_t n : {1, 5, 40}) {
          SCOPED_TRACE(::testing::Message() << "seed " << seed << " type " << type_name(type) << " gelu " << gelu
                                            << " k " << k_used << " n " << n);
          const auto xf = test::random_floats(rng, static_cast<size_t>(kEmbd * n));
          std::vector<float> y(static_cast<size_t>(kEmbd * n));
          cpu::MoeScratch scratch;
          cpu::moe_ffn(w, xf.data(), y.data(), n, scratch, pool);
          // float64: route, then the chosen experts' weighted sum.
          std::vector<double> want;
          for (int64_t t = 0; t < n; ++t) {
            const std::vector<double> x(xf.begin() + t * kEmbd, xf.begin() + (t + 1) * kEmbd);
            const auto logits = matvec(router, 0, kExperts, kEmbd, x.data());
            std::vector<double> p(logits.size());
            const double mx = *std::max_element(logits.begin(), logits.end());
            double sum = 0;
            for (size_t e = 0; e < p.size(); ++e) sum += (p[e] = std::exp(logits[e] - mx));
            std::vector<int64_t> order(static_cast<size_t>(kExperts));
            std::iota(order.begin(), order.end(), 0);
            std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return p[static_cast<size_t>(a)] > p[static_cast<size_t>(b)]; });
            double chosen = 0;
            for (int64_t j = 0; j < k_used; ++j) chosen += p[static_cast<size_t>(order[static_cast<size_t>(j)])] / sum;
            std::vector<double> out(static_cast<size_t>(kEmbd), 0.0);
            for (int64_t j = 0; j < k_used; ++j) {
              const int64_t e = order[static_cast<size_t>(j)];
              const double pe = p[static_cast<size_t>(e)] / sum;
              const double weight = w.normalize ? pe / chosen : pe;
              const auto g = matvec(gate, e * kFf, kFf, kEmbd, x.data());
              auto u = matvec(up, e * kFf, kFf, kEmbd, x.data());
              for (size_t i = 0; i < u.size(); ++i) u[i] *= gelu ? gelu_tanh(g[i]) : silu(g[i]);
              const auto d = matvec(down, e * kEmbd, kEmbd, kFf, u.data());
              for (size_t i = 0; i < out.size(); ++i) out[i] += weight * d[i];
            }
            want.insert(want.end(), out.begin(), out.end());
          }
          EXPECT_LE(rel_error(y, want), 1e-5);
        }
      }
    }
  }
}

model::Weight weight_of(const Mat& m, GgmlType type, int64_t k, int64_t n) {
  model::Weight w;
  w.type = type;
  w.ne[0] = k;
  w.ne[1] = n;
  w.data = m.bytes.data();
  w.n_bytes = m.bytes.size();
  return w;
}

TEST(GatedFfn, GegluAndSwigluSeparateAndFusedMatchFloat64) {
  const uint64_t seed = test::test_seed();
  std::mt19937_64 rng(seed);
  ThreadPool pool(2);
  constexpr int64_t kEmbd = 64, kFf = 80;
  model::HParams hp;
  hp.n_embd = kEmbd;
  hp.n_ff = kFf;
  for (const bool fused : {false, true}) {
    for (const bool gelu : {false, true}) {
      const Mat gate = random_matrix(rng, GgmlType::F32, kEmbd, kFf);
      const Mat up = random_matrix(rng, GgmlType::F32, kEmbd, kFf);
      const Mat down = random_matrix(rng, GgmlType::F32, kFf, kEmbd);
      Mat gate_up = gate;  // fused: the gate rows, then the up rows
      gate_up.bytes.insert(gate_up.bytes.end(), up.bytes.begin(), up.bytes.end());
      model::LayerWeights L;
      if (fused) {
        L.ffn_up = weight_of(gate_up, GgmlType::F32, kEmbd, 2 * kFf);
      } else {
        L.ffn_gate = weight_of(gate, GgmlType::F32, kEmbd, kFf);
        L.ffn_up = weight_of(up, GgmlType::F32, kEmbd, kFf);
      }
      L.ffn_down = weight_of(down, GgmlType::F32, kFf, kEmbd);
      const model::BlockOptions block{.fused_gate_up = fused,
                                      .ffn_act = gelu ? model::FfnActivation::kGeluTanh : model::FfnActivation::kSilu};
      for (const int64_t n : {1, 3, 33}) {
        SCOPED_TRACE(::testing::Message() << "seed " << seed << " fused " << fused << " gelu " << gelu << " n " << n);
        const auto xf = test::random_floats(rng, static_cast<size_t>(kEmbd * n), -2.0f, 2.0f);
        std::vector<float> y(static_cast<size_t>(kEmbd * n));
        cpu::FfnScratch scratch;
        cpu::ffn_forward(L, hp, block, xf.data(), y.data(), n, scratch, pool);
        std::vector<double> want;
        for (int64_t t = 0; t < n; ++t) {
          const std::vector<double> x(xf.begin() + t * kEmbd, xf.begin() + (t + 1) * kEmbd);
          const auto g = matvec(gate, 0, kFf, kEmbd, x.data());
          auto u = matvec(up, 0, kFf, kEmbd, x.data());
          for (size_t i = 0; i < u.size(); ++i) u[i] *= gelu ? gelu_tanh(g[i]) : silu(g[i]);
          const auto d = matvec(down, 0, kEmbd, kFf, u.data());
          want.insert(want.end(), d.begin(), d.end());
        }
        EXPECT_LE(rel_error(y, want), 1e-5);
      }
    }
  }
}

}  // namespace
}  // namespace quarrel
