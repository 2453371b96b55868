// Per-level tests of the quantized / float dot products, the activation quantizers and the row
// dequantization, against the scalar reference (src/quant) and float64 dot products.
#include <gtest/gtest.h>

#include <cstring>

#include "level_test.h"
#include "quant_inputs.h"

namespace quarrel::cpu::test {
namespace {

using VecDot = LevelTest;

TEST_P(VecDot, ActivationQuantizersMatchTheReferenceBitForBit) {
  SCOPED_TRACE(seed_note());
  for (int64_t k : {256, 512, 2048}) {
    auto x = random_weights(rng_, static_cast<size_t>(k));
    // Special blocks: all zero, one value, ties at .5 after scaling, the largest magnitude negative.
    std::fill(x.begin(), x.begin() + 32, 0.0f);
    for (int i = 32; i < 64; ++i) x[i] = 0.0f;
    x[40] = -3.0f;
    for (int i = 64; i < 96; ++i) x[i] = static_cast<float>(i - 80) * 0.5f;  // amax 7.5 -> q = x * 127 / 7.5
    std::vector<quant::BlockQ8_0> ref0(k / 32), got0(k / 32);
    quant::quantize_row_q8_0(x.data(), ref0.data(), k);
    K().quantize_q8_0(x.data(), got0.data(), k);
    EXPECT_EQ(std::memcmp(ref0.data(), got0.data(), ref0.size() * sizeof(ref0[0])), 0) << "Q8_0 k=" << k;
    std::vector<quant::BlockQ8_K> refk(k / 256), gotk(k / 256);
    quant::quantize_row_q8_K(x.data(), refk.data(), k);
    K().quantize_q8_K(x.data(), gotk.data(), k);
    EXPECT_EQ(std::memcmp(refk.data(), gotk.data(), refk.size() * sizeof(refk[0])), 0) << "Q8_K k=" << k;
  }
  std::vector<float> zeros(256, 0.0f);
  std::vector<quant::BlockQ8_K> refk(1), gotk(1);
  quant::quantize_row_q8_K(zeros.data(), refk.data(), 256);
  K().quantize_q8_K(zeros.data(), gotk.data(), 256);
  EXPECT_EQ(std::memcmp(refk.data(), gotk.data(), sizeof(refk[0])), 0);
}

TEST_P(VecDot, DequantizationMatchesTheReferenceBitForBit) {
  SCOPED_TRACE(seed_note());
  for (GgmlType t : weight_types()) {
    for (int64_t k : test_lengths(t)) {
      const auto x = random_weights(rng_, static_cast<size_t>(k));
      const auto q = quantize_rows(t, x, k, 1);
      const auto ref = dequantize_rows(t, q.data(), k, 1);
      std::vector<float> got(static_cast<size_t>(k), -1.0f);
      K().types[static_cast<int>(t)].dequant(q.data(), got.data(), k);
      ASSERT_EQ(std::memcmp(ref.data(), got.data(), ref.size() * 4), 0) << type_name(t) << " k=" << k;
    }
  }
}

TEST_P(VecDot, DotProductsMatchFloat64OnTheSameQuantizedValues) {
  SCOPED_TRACE(seed_note());
  for (GgmlType t : weight_types()) {
    const TypeKernels& tk = K().types[static_cast<int>(t)];
    ASSERT_NE(tk.act, ActFormat::kNone) << type_name(t);
    // The float types keep float32 activations; the rest are checked at ~1e-5 of sum |w x|
    // (the integer sums are exact; only the float scaling and accumulation round).
    const double tol = 2e-6 * 8;
    for (int64_t k : test_lengths(t)) {
      for (int64_t n_rows : {1, 3, 7}) {
        const auto wf = random_weights(rng_, static_cast<size_t>(k * n_rows));
        const auto w = quantize_rows(t, wf, k, n_rows);
        const auto wd = dequantize_rows(t, w.data(), k, n_rows);
        const auto x = random_weights(rng_, static_cast<size_t>(k));
        const ActRow act = make_act_row(K(), tk, x.data(), k);
        const auto xv = activation_values(tk.act, act.quantized.data(), x.data(), k);
        std::vector<float> got(static_cast<size_t>(n_rows), 0.0f);
        tk.vec_dot(k, w.data(), row_bytes(t, static_cast<uint64_t>(k)), n_rows, act.ptr, got.data());
        for (int64_t r = 0; r < n_rows; ++r) {
          const DotRef ref = dot_ref(wd.data() + r * k, xv.data(), k);
          EXPECT_NEAR(got[r], ref.value, tol * ref.magnitude + 1e-30)
              << type_name(t) << " k=" << k << " row " << r << "/" << n_rows;
        }
      }
    }
  }
}

QUARREL_INSTANTIATE_LEVELS(VecDot);

}  // namespace
}  // namespace quarrel::cpu::test
