// matmul on every weight type and level, both paths (quantized activations for small m, float
// panels for large m), odd shapes, strides, several outputs, 1-3 threads; against float64.
#include "backend/cpu/matmul.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"
#include "level_test.h"
#include "quant_inputs.h"

namespace quarrel::cpu::test {
namespace {

using Matmul = LevelTest;

struct Case {
  int64_t k, n, m;
};

// y_ref[j][r] over the values both paths compute on: x in the weight type's activation format
// (float32, or quantized to Q8_0 / Q8_K bit-exactly as the reference does).
void check(const CpuKernels& K, GgmlType t, const std::vector<float>& wd, const std::vector<float>& x, int64_t ldx,
           const Case& c, MatmulPath, const std::vector<float>& y, int64_t ldy, const std::string& what) {
  const ActFormat act = K.types[static_cast<int>(t)].act;
  for (int64_t j = 0; j < c.m; ++j) {
    std::vector<uint8_t> buf(act_row_bytes(act, c.k));
    if (act == ActFormat::kQ8_0) quant::quantize_row_q8_0(x.data() + j * ldx, reinterpret_cast<quant::BlockQ8_0*>(buf.data()), c.k);
    if (act == ActFormat::kQ8_K) quant::quantize_row_q8_K(x.data() + j * ldx, reinterpret_cast<quant::BlockQ8_K*>(buf.data()), c.k);
    const auto xv = activation_values(act, buf.data(), x.data() + j * ldx, c.k);
    for (int64_t r = 0; r < c.n; ++r) {
      const DotRef ref = dot_ref(wd.data() + r * c.k, xv.data(), c.k);
      ASSERT_NEAR(y[j * ldy + r], ref.value, 2e-5 * ref.magnitude + 1e-30)
          << what << " " << type_name(t) << " k=" << c.k << " n=" << c.n << " m=" << c.m << " row " << r << " col " << j;
    }
  }
}

TEST_P(Matmul, EveryTypeBothPathsOddShapes) {
  SCOPED_TRACE(seed_note());
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (GgmlType t : weight_types()) {
      const int64_t bs = traits(t).block_size;
      const std::vector<Case> cases = is_float_type(t)
                                          ? std::vector<Case>{{1, 1, 1}, {7, 5, 3}, {100, 37, 9}, {257, 13, 33}}
                                          : std::vector<Case>{{bs, 1, 1}, {bs * 3, 37, 2}, {bs * 2, 13, 19}, {512, 29, 40}};
      for (const Case& c : cases) {
        const auto wf = random_weights(rng_, static_cast<size_t>(c.k * c.n));
        const auto w = quantize_rows(t, wf, c.k, c.n);
        const auto wd = dequantize_rows(t, w.data(), c.k, c.n);
        const auto x = random_weights(rng_, static_cast<size_t>(c.k * c.m));
        for (MatmulPath path : {MatmulPath::kVecDot, MatmulPath::kGemm}) {
          std::vector<float> y(static_cast<size_t>(c.n * c.m), NAN);
          const MatmulOut out{{t, w.data(), c.k, c.n, 0}, y.data(), 0};
          matmul_multi({&out, 1}, x.data(), c.k, c.m, pool, {&K(), path});
          check(K(), t, wd, x, c.k, c, path, y, c.n,
                std::string(path == MatmulPath::kGemm ? "gemm" : "vec_dot") + " threads=" + std::to_string(threads));
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST_P(Matmul, MultipleOutputsStridesAndTheAutomaticPath) {
  SCOPED_TRACE(seed_note());
  ThreadPool pool(2);
  const int64_t k = 512;
  const GgmlType types[3] = {GgmlType::Q4_K, GgmlType::Q8_0, GgmlType::F16};
  const int64_t ns[3] = {40, 17, 9};
  for (int64_t m : {int64_t{1}, int64_t{5}, kGemmMinColumns, int64_t{45}}) {
    const int64_t ldx = k + 3, ldy = 70;
    const auto x = random_weights(rng_, static_cast<size_t>(ldx * m));
    std::vector<std::vector<uint8_t>> w(3);
    std::vector<std::vector<float>> wd(3), y(3);
    std::vector<MatmulOut> outs;
    for (int i = 0; i < 3; ++i) {
      w[i] = quantize_rows(types[i], random_weights(rng_, static_cast<size_t>(k * ns[i])), k, ns[i]);
      wd[i] = dequantize_rows(types[i], w[i].data(), k, ns[i]);
      y[i].assign(static_cast<size_t>(ldy * m), 12345.0f);
      outs.push_back({{types[i], w[i].data(), k, ns[i], 0}, y[i].data(), ldy});
    }
    set_active_level(GetParam());
    matmul_multi(outs, x.data(), ldx, m, pool);
    const MatmulPath path = m >= kGemmMinColumns ? MatmulPath::kGemm : MatmulPath::kVecDot;
    for (int i = 0; i < 3; ++i) {
      check(K(), types[i], wd[i], x, ldx, {k, ns[i], m}, path, y[i], ldy, "multi");
      for (int64_t j = 0; j < m; ++j)
        for (int64_t r = ns[i]; r < ldy; ++r) ASSERT_EQ(y[i][j * ldy + r], 12345.0f) << "wrote past n";
    }
  }
}

TEST_P(Matmul, RowStrideLeavesGapsAlone) {
  SCOPED_TRACE(seed_note());
  ThreadPool pool(2);
  const int64_t k = 256, n = 11;
  for (GgmlType t : {GgmlType::Q6_K, GgmlType::F32}) {
    const size_t rb = row_bytes(t, k), stride = rb + 64;
    const auto wf = random_weights(rng_, static_cast<size_t>(k * n));
    const auto packed = quantize_rows(t, wf, k, n);
    std::vector<uint8_t> strided(stride * n, 0xFF);
    for (int64_t r = 0; r < n; ++r) std::memcpy(strided.data() + stride * r, packed.data() + rb * r, rb);
    const auto wd = dequantize_rows(t, packed.data(), k, n);
    for (int64_t m : {1, 20}) {
      const auto x = random_weights(rng_, static_cast<size_t>(k * m));
      std::vector<float> y(static_cast<size_t>(n * m));
      matmul({t, strided.data(), k, n, stride}, x.data(), y.data(), m, pool);
      check(K(), t, wd, x, k, {k, n, m}, m >= kGemmMinColumns ? MatmulPath::kGemm : MatmulPath::kVecDot, y, n, "stride");
    }
  }
}

TEST_P(Matmul, ManyColumnsSpanSeveralColumnGroups) {
  SCOPED_TRACE(seed_note());
  ThreadPool pool(2);
  const Case c{64, 25, kGemmGroupColumns + 45};
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::F16, GgmlType::F32}) {
    const auto w = quantize_rows(t, random_weights(rng_, static_cast<size_t>(c.k * c.n)), c.k, c.n);
    const auto wd = dequantize_rows(t, w.data(), c.k, c.n);
    const auto x = random_weights(rng_, static_cast<size_t>(c.k * c.m));
    std::vector<float> y(static_cast<size_t>(c.n * c.m), NAN);
    matmul({t, w.data(), c.k, c.n, 0}, x.data(), y.data(), c.m, pool);
    check(K(), t, wd, x, c.k, c, MatmulPath::kGemm, y, c.n, "groups");
  }
}

TEST_P(Matmul, BatchedEqualsAloneUpToRounding) {
  // A column's result does not depend on the path (batch size) beyond float rounding order.
  SCOPED_TRACE(seed_note());
  ThreadPool pool(2);
  for (GgmlType t : weight_types()) {
    const int64_t k = is_float_type(t) ? 300 : 512, n = 21, m = 9;
    const auto w = quantize_rows(t, random_weights(rng_, static_cast<size_t>(k * n)), k, n);
    const auto x = random_weights(rng_, static_cast<size_t>(k * m));
    std::vector<float> batched(static_cast<size_t>(n * m)), alone(static_cast<size_t>(n));
    const MatmulOut out{{t, w.data(), k, n, 0}, batched.data(), 0};
    matmul_multi({&out, 1}, x.data(), k, m, pool, {&K(), MatmulPath::kGemm});
    const auto wd = dequantize_rows(t, w.data(), k, n);
    for (int64_t j = 0; j < m; ++j) {
      const MatmulOut one{{t, w.data(), k, n, 0}, alone.data(), 0};
      matmul_multi({&one, 1}, x.data() + j * k, k, 1, pool, {&K(), MatmulPath::kVecDot});
      for (int64_t r = 0; r < n; ++r) {
        double mag = 0;
        for (int64_t i = 0; i < k; ++i) mag += std::fabs(double(wd[r * k + i]) * x[j * k + i]);
        ASSERT_NEAR(batched[j * n + r], alone[r], 4e-6 * mag) << type_name(t) << " row " << r << " col " << j;
      }
    }
  }
}

TEST(MatmulErrors, UnsupportedTypeAndBadShapeAreErrors) {
  ThreadPool pool(1);
  std::vector<float> x(64), y(4);
  std::vector<uint8_t> w(1024);
  EXPECT_FALSE(matmul_supported(GgmlType::IQ2_XXS));
  EXPECT_TRUE(matmul_supported(GgmlType::IQ4_XS));
  try {
    matmul({GgmlType::IQ2_XXS, w.data(), 256, 1, 0}, x.data(), y.data(), 1, pool);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("IQ2_XXS"), std::string::npos);
  }
  EXPECT_THROW(matmul({GgmlType::Q4_0, w.data(), 48, 1, 0}, x.data(), y.data(), 1, pool), Error);
}

QUARREL_INSTANTIATE_LEVELS(Matmul);

}  // namespace
}  // namespace quarrel::cpu::test
