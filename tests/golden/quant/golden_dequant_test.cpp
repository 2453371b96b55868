// Every tensor of every file in quant/: its dequantized float32 values hash (sha256, little-
// endian float32) to the value in golden_dequant.json, bit for bit.
#include <gtest/gtest.h>

#include "golden/quant/quant_golden.h"

namespace quarrel::test {
namespace {

class GoldenDequant : public ::testing::TestWithParam<std::string> {};

TEST_P(GoldenDequant, EveryTensorMatchesSha256) {
  const auto golden = load_golden();
  const std::string file = GetParam();
  ASSERT_TRUE(golden.count(file)) << file << " is not in golden_dequant.json";
  const auto f = gguf::GgufFile::open(data_path("quant/" + file).string());
  const auto& want = golden.at(file);
  ASSERT_EQ(f.tensors().size(), want.size()) << file;
  for (const auto& g : want) {
    SCOPED_TRACE(file + " " + g.name);
    const auto* t = f.find_tensor(g.name);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(type_name(t->type), g.type);
    EXPECT_EQ(t->shape, g.ne);
    ASSERT_TRUE(quant::is_supported(t->type));
    const auto values = dequantize_tensor(f, *t);
    for (size_t i = 0; i < g.first8.size() && i < values.size(); ++i)
      EXPECT_EQ(static_cast<double>(values[i]), g.first8[i]) << "element " << i;
    EXPECT_EQ(sha256_floats(values), g.sha256);
  }
}

// Listed here rather than read from the JSON: test discovery runs without the data folder.
std::vector<std::string> golden_files() {
  std::vector<std::string> out;
  for (const char* mix : kGoldenMixes) out.push_back(std::string("quanttest-") + mix + ".gguf");
  return out;
}

INSTANTIATE_TEST_SUITE_P(Files, GoldenDequant, ::testing::ValuesIn(golden_files()),
                         [](const auto& p) {
                           std::string s = p.param;
                           for (auto& c : s)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return s;
                         });

// The data folder holds exactly the files the JSON describes (plus the F32 source), so a file
// added without golden values is noticed.
TEST(GoldenDequantFiles, EveryQuantFileHasGoldenValues) {
  const auto golden = load_golden();
  for (const auto& e : std::filesystem::directory_iterator(data_path("quant"))) {
    const auto name = e.path().filename().string();
    if (e.path().extension() != ".gguf" || name == "quanttest-f32.gguf") continue;
    EXPECT_TRUE(golden.count(name)) << name;
  }
}

}  // namespace
}  // namespace quarrel::test
