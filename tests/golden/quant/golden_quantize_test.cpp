// The reference quantizers on the F32 source tensors (quanttest-f32.gguf): for every tensor
// of every golden file, quantizing the source to that tensor's type and back has an RMSE of
// at most 1.02x the RMSE recorded for the reference quantizer. Whether the result is also
// bit-identical to the reference is printed (and, for the types where our search is the
// reference's step for step, required).
#include <gtest/gtest.h>

#include <cstdio>
#include <set>

#include "golden/quant/quant_golden.h"

namespace quarrel::test {
namespace {

constexpr double kMaxRmseRatio = 1.02;

class GoldenQuantize : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GoldenQuantize, RmseWithinTwoPercentOfReference) {
  const GgmlType type = GetParam();
  const auto golden = load_golden();
  const auto src = gguf::GgufFile::open(data_path("quant/quanttest-f32.gguf").string());
  int n_checked = 0, n_identical = 0;
  std::set<std::string> seen;  // a tensor quantized to the same type appears in several files
  for (const auto& [file, tensors] : golden) {
    for (const auto& g : tensors) {
      if (g.type != type_name(type) || !seen.insert(g.name + "/" + g.sha256).second) continue;
      SCOPED_TRACE(file + " " + g.name);
      const auto& t = src.tensor(g.name);
      ASSERT_EQ(t.type, GgmlType::F32);
      const auto x = dequantize_tensor(src, t);
      const auto y = round_trip(type, x);
      const double r = rmse(x, y);
      EXPECT_LE(r, kMaxRmseRatio * g.rmse) << "ours " << r << " reference " << g.rmse;
      // The golden RMSE is the reference's; ours must reproduce it closely, not just beat it.
      EXPECT_NEAR(r, g.rmse, 0.02 * g.rmse + 1e-12);
      const bool identical = sha256_floats(y) == g.sha256;
      n_identical += identical;
      ++n_checked;
      std::printf("  %-8s %-28s rmse %.6g (reference %.6g, ratio %.5f)%s\n", g.type.c_str(), g.name.c_str(), r,
                  g.rmse, g.rmse > 0 ? r / g.rmse : 1.0, identical ? " bit-identical" : "");
    }
  }
  std::printf("%s: %d of %d tensors bit-identical to the reference\n", std::string(type_name(type)).c_str(),
              n_identical, n_checked);
  EXPECT_GT(n_checked, 0) << "no golden tensor of type " << type_name(type);
  EXPECT_EQ(n_identical, n_checked) << "the quantizer drifted from the reference search";
}

INSTANTIATE_TEST_SUITE_P(Types, GoldenQuantize,
                         ::testing::Values(GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
                                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K,
                                           GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                                           GgmlType::IQ4_NL, GgmlType::IQ4_XS),
                         [](const auto& p) { return std::string(type_name(p.param)); });

}  // namespace
}  // namespace quarrel::test
