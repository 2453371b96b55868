// The per-tensor types Quarrel chooses for quanttest-f32.gguf under each mix are those of the
// reference tool's quanttest-MIX.gguf, tensor for tensor and in the same order, and the
// general.file_type matches.
#include <gtest/gtest.h>

#include "golden/quant/quant_golden.h"
#include "quant/mix.h"
#include "quant/quantize_model.h"

namespace quarrel::test {
namespace {

class GoldenMix : public ::testing::TestWithParam<const char*> {};

TEST_P(GoldenMix, TensorTypesMatchReference) {
  const std::string mix_name = GetParam();
  const auto* mix = quant::find_mix(mix_name);
  ASSERT_NE(mix, nullptr) << mix_name;
  const auto src = gguf::GgufFile::open(data_path("quant/quanttest-f32.gguf").string());
  const auto ref = gguf::GgufFile::open(data_path("quant/quanttest-" + mix_name + ".gguf").string());
  const auto plan = quant::plan_quantization(src, *mix);
  ASSERT_EQ(plan.size(), ref.tensors().size());
  for (size_t i = 0; i < plan.size(); ++i) {
    const auto& want = ref.tensors()[i];
    EXPECT_EQ(plan[i].name, want.name) << "tensor #" << i;
    EXPECT_EQ(type_name(plan[i].to), type_name(want.type)) << want.name;
    EXPECT_EQ(plan[i].shape, want.shape) << want.name;
    EXPECT_EQ(plan[i].out_bytes, want.n_bytes()) << want.name;
    EXPECT_FALSE(plan[i].fallback) << want.name;
  }
  EXPECT_EQ(ref.get_uint("general.file_type"), mix->file_type);
}

INSTANTIATE_TEST_SUITE_P(Mixes, GoldenMix, ::testing::ValuesIn(std::begin(kGoldenMixes), std::end(kGoldenMixes)),
                         [](const auto& p) { return std::string(p.param); });

// Every golden mix is one `quarrel quantize` knows.
TEST(GoldenMixNames, EveryGoldenMixIsKnown) {
  for (const char* m : kGoldenMixes) EXPECT_NE(quant::find_mix(m), nullptr) << m;
  EXPECT_EQ(quant::quant_mixes().size(), std::size(kGoldenMixes));
}

}  // namespace
}  // namespace quarrel::test
