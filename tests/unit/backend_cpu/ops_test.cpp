// Per-level tests of the element-wise / row operations against float64 references.
#include "backend/cpu/ops.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "level_test.h"

namespace quarrel::cpu::test {
namespace {

using Ops = LevelTest;

const std::vector<int64_t> kLengths = {1, 3, 7, 8, 9, 16, 31, 64, 100, 1000, 4097};

std::vector<float> rnd(std::mt19937_64& rng, size_t n, float lo = -4, float hi = 4) {
  return quarrel::test::random_floats(rng, n, lo, hi);
}

void expect_close(const std::vector<float>& got, const std::vector<double>& ref, double rel, double abs_floor,
                  const std::string& what) {
  ASSERT_EQ(got.size(), ref.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], ref[i], rel * std::fabs(ref[i]) + abs_floor) << what << " i=" << i << " n=" << got.size();
}

TEST_P(Ops, RmsNormWithAndWithoutWeight) {
  SCOPED_TRACE(seed_note());
  for (int64_t n : kLengths) {
    const int64_t rows = 3;
    const auto x = rnd(rng_, static_cast<size_t>(n * rows));
    const auto w = rnd(rng_, static_cast<size_t>(n));
    for (bool with_w : {true, false}) {
      std::vector<float> y(x.size());
      rms_norm(x.data(), with_w ? w.data() : nullptr, y.data(), n, rows, 1e-5f);
      std::vector<double> ref(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        double ss = 0;
        for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[r * n + i]) * x[r * n + i];
        const double s = 1.0 / std::sqrt(ss / n + 1e-5);
        for (int64_t i = 0; i < n; ++i) ref[r * n + i] = x[r * n + i] * s * (with_w ? w[i] : 1.0);
      }
      expect_close(y, ref, 1e-5, 1e-6, "rms_norm");
      std::vector<float> inplace = x;  // aliasing allowed
      rms_norm(inplace.data(), with_w ? w.data() : nullptr, inplace.data(), n, rows, 1e-5f);
      EXPECT_EQ(inplace, y);
    }
  }
}

// ggml's rope_ext, written out in float64.
std::vector<double> rope_ref(const std::vector<float>& x, int hd, int n_heads, const std::vector<int32_t>& pos,
                             const RopeParams& p) {
  const int n_dims = p.n_dims ? p.n_dims : hd;
  std::vector<double> out(x.begin(), x.end());
  auto corr_dim = [&](double n_rot) {
    return n_dims * std::log(p.n_ctx_orig / (n_rot * 2 * std::numbers::pi)) / (2 * std::log(double(p.freq_base)));
  };
  const double c0 = std::max(0.0, std::floor(corr_dim(p.beta_fast)));
  const double c1 = std::min(double(n_dims - 1), std::ceil(corr_dim(p.beta_slow)));
  for (size_t t = 0; t < pos.size(); ++t) {
    for (int h = 0; h < n_heads; ++h) {
      double* v = out.data() + (t * n_heads + h) * hd;
      for (int i0 = 0; i0 < n_dims; i0 += 2) {
        const double ff = p.freq_factors ? p.freq_factors[i0 / 2] : 1.0;
        const double theta_extrap = pos[t] * std::pow(double(p.freq_base), -double(i0) / n_dims) / ff;
        const double theta_interp = p.freq_scale * theta_extrap;
        double theta = theta_interp, mscale = p.attn_factor;
        if (p.ext_factor != 0) {
          const double y = (i0 / 2 - c0) / std::max(0.001, c1 - c0);
          const double ramp = (1 - std::min(1.0, std::max(0.0, y))) * p.ext_factor;
          theta = theta_interp * (1 - ramp) + theta_extrap * ramp;
          mscale *= 1 + 0.1 * std::log(1.0 / p.freq_scale);
        }
        const double c = std::cos(theta) * mscale, s = std::sin(theta) * mscale;
        const int a = p.neox ? i0 / 2 : i0, b = p.neox ? i0 / 2 + n_dims / 2 : i0 + 1;
        const double x0 = v[a], x1 = v[b];
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
      }
    }
  }
  return out;
}

TEST_P(Ops, RopeNormalNeoxScaledYarnAndFrequencyFactors) {
  SCOPED_TRACE(seed_note());
  const int hd = 64, n_heads = 3;
  const std::vector<int32_t> pos = {0, 1, 5, 17, 300, 4095, 20000};
  std::vector<float> factors(32);
  for (int i = 0; i < 32; ++i) factors[i] = 1.0f + static_cast<float>(i % 7);
  std::vector<RopeParams> params(6);
  params[1].neox = true;
  params[2].freq_scale = 0.25f;
  params[2].freq_base = 500000.0f;
  params[3].freq_factors = factors.data();
  params[3].freq_base = 500000.0f;
  params[4].neox = true;
  params[4].freq_scale = 0.125f;
  params[4].ext_factor = 1.0f;
  params[4].n_ctx_orig = 4096;
  params[4].attn_factor = 0.9f;
  params[5].n_dims = 32;  // partial rotation
  for (size_t pi = 0; pi < params.size(); ++pi) {
    const auto x = rnd(rng_, static_cast<size_t>(hd * n_heads) * pos.size(), -1, 1);
    auto got = x;
    rope(got.data(), hd, n_heads, pos, params[pi]);
    const auto ref = rope_ref(x, hd, n_heads, pos, params[pi]);
    expect_close(got, ref, 1e-5, 1e-6, "rope params #" + std::to_string(pi));
  }
  // With a token stride (Q inside a fused QKV buffer), and the cache shared by two calls.
  const int64_t stride = hd * n_heads + 10;
  std::vector<float> buf(static_cast<size_t>(stride) * pos.size(), 7.0f);
  const RopeCache cache(params[1], hd, pos);
  rope(buf.data(), n_heads, stride, cache);
  for (size_t t = 0; t < pos.size(); ++t)
    for (int64_t i = hd * n_heads; i < stride; ++i) ASSERT_EQ(buf[t * stride + i], 7.0f);
  // One cache rebuilt for every parameter set in turn, twice over and at other positions (it keeps
  // the frequencies of the last parameters): the same bits as a fresh cache each time.
  RopeCache reused;
  for (int round = 0; round < 2; ++round) {
    for (size_t pi = 0; pi < params.size(); ++pi) {
      std::vector<int32_t> at = pos;
      for (auto& v : at) v += static_cast<int32_t>(round * 7 + pi);
      reused.build(params[pi], hd, at);
      const RopeCache fresh(params[pi], hd, at);
      ASSERT_EQ(reused.n_dims(), fresh.n_dims());
      ASSERT_EQ(reused.neox(), fresh.neox());
      for (size_t t = 0; t < at.size(); ++t) {
        for (int i = 0; i < fresh.n_dims(); ++i) {
          ASSERT_EQ(reused.token(static_cast<int64_t>(t))[i], fresh.token(static_cast<int64_t>(t))[i])
              << "params #" << pi << " round " << round << " token " << t << " value " << i;
        }
      }
    }
  }
}

TEST_P(Ops, GatedActivations) {
  SCOPED_TRACE(seed_note());
  for (int64_t n : kLengths) {
    auto g = rnd(rng_, static_cast<size_t>(n), -12, 12);
    const auto u = rnd(rng_, static_cast<size_t>(n));
    if (n > 3) g[0] = 100.0f, g[1] = -100.0f, g[2] = 0.0f;
    std::vector<float> y(static_cast<size_t>(n));
    std::vector<double> ref(static_cast<size_t>(n));
    swiglu(g.data(), u.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ref[i] = g[i] / (1.0 + std::exp(-double(g[i]))) * u[i];
    expect_close(y, ref, 2e-6, 1e-7, "swiglu");
    geglu(g.data(), u.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) {
      const double x = g[i];
      ref[i] = 0.5 * x * (1 + std::tanh(std::sqrt(2 / std::numbers::pi) * (x + 0.044715 * x * x * x))) * u[i];
    }
    expect_close(y, ref, 2e-6, 1e-7, "geglu");
  }
}

TEST_P(Ops, SoftmaxWithScaleAndSoftcap) {
  SCOPED_TRACE(seed_note());
  for (int64_t n : kLengths) {
    for (float cap : {0.0f, 30.0f}) {
      const float sc = 0.7f;
      auto x = rnd(rng_, static_cast<size_t>(n), -40, 40);
      if (n > 2) x[1] = -INFINITY;  // masked entry
      std::vector<double> z(static_cast<size_t>(n));
      double m = -INFINITY;
      for (int64_t i = 0; i < n; ++i) {
        z[i] = double(x[i]) * sc;
        if (cap > 0) z[i] = cap * std::tanh(z[i] / cap);
        m = std::max(m, z[i]);
      }
      double s = 0;
      for (auto& v : z) s += (v = std::exp(v - m));
      for (auto& v : z) v /= s;
      softmax(x.data(), n, sc, cap);
      // The relative error of a softmax output is about the absolute error of its input
      // (|z| <= 40 here, so ~40 ulp(1)).
      expect_close(x, z, 1e-5, 1e-9, "softmax cap=" + std::to_string(cap));
    }
  }
  std::vector<float> all_masked(5, -INFINITY);
  softmax(all_masked.data(), 5);
  for (float v : all_masked) EXPECT_FLOAT_EQ(v, 0.2f);
}

TEST_P(Ops, SoftcapAddScaleArgmax) {
  SCOPED_TRACE(seed_note());
  for (int64_t n : kLengths) {
    auto x = rnd(rng_, static_cast<size_t>(n), -100, 100);
    const auto b = rnd(rng_, static_cast<size_t>(n));
    std::vector<float> y(static_cast<size_t>(n));
    std::vector<double> ref(static_cast<size_t>(n));
    add(x.data(), b.data(), y.data(), n);
    for (int64_t i = 0; i < n; ++i) ref[i] = double(x[i]) + b[i];
    expect_close(y, ref, 1e-7, 0, "add");
    scale(x.data(), -0.3f, y.data(), n);
    for (int64_t i = 0; i < n; ++i) ref[i] = double(x[i]) * -0.3f;
    expect_close(y, ref, 1e-7, 0, "scale");
    y = x;
    softcap(y.data(), n, 30.0f);
    for (int64_t i = 0; i < n; ++i) ref[i] = 30.0 * std::tanh(double(x[i]) / 30.0);
    expect_close(y, ref, 2e-6, 1e-6, "softcap");
    const int64_t want = std::max_element(x.begin(), x.end()) - x.begin();
    EXPECT_EQ(argmax(x.data(), n), want);
  }
  const std::vector<float> ties = {NAN, 1.0f, 3.0f, 3.0f, -1.0f};
  EXPECT_EQ(argmax(ties.data(), 5), 2);
  EXPECT_EQ(argmax(ties.data(), 0), -1);
}

QUARREL_INSTANTIATE_LEVELS(Ops);

}  // namespace
}  // namespace quarrel::cpu::test
