#include "core/ggml_type.h"

#include <gtest/gtest.h>

namespace quarrel {
namespace {

TEST(GgmlType, GeometryOfCommonTypes) {
  EXPECT_EQ(traits(GgmlType::Q4_0).type_size, 18u);
  EXPECT_EQ(traits(GgmlType::Q4_K).type_size, 144u);
  EXPECT_EQ(traits(GgmlType::Q6_K).type_size, 210u);
  EXPECT_EQ(traits(GgmlType::IQ4_XS).type_size, 136u);
  EXPECT_EQ(traits(GgmlType::MXFP4).type_size, 17u);
  EXPECT_EQ(row_bytes(GgmlType::Q8_0, 4096), 4096u / 32 * 34);
}

TEST(GgmlType, UnknownNumbersAndNames) {
  EXPECT_FALSE(ggml_type_traits(4).has_value());  // removed Q4_2
  EXPECT_FALSE(ggml_type_traits(1000).has_value());
  EXPECT_EQ(parse_type_name("q4_k"), GgmlType::Q4_K);
  EXPECT_EQ(parse_type_name("BF16"), GgmlType::BF16);
  EXPECT_FALSE(parse_type_name("Q9_9").has_value());
}

// F8_E4M3 is Quarrel's own KV cache type: it has traits and a name, but no GGUF number.
TEST(GgmlType, Fp8IsAKvOnlyType) {
  EXPECT_EQ(traits(GgmlType::F8_E4M3).block_size, 1u);
  EXPECT_EQ(traits(GgmlType::F8_E4M3).type_size, 1u);
  EXPECT_EQ(type_name(GgmlType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(row_bytes(GgmlType::F8_E4M3, 128), 128u);
  EXPECT_EQ(parse_type_name("f8_e4m3"), GgmlType::F8_E4M3);
  EXPECT_EQ(parse_type_name("F8_E4M3"), GgmlType::F8_E4M3);
  EXPECT_FALSE(ggml_type_traits(static_cast<uint32_t>(GgmlType::F8_E4M3)).has_value());
  EXPECT_FALSE(is_gguf_type(GgmlType::F8_E4M3));
  EXPECT_TRUE(is_gguf_type(GgmlType::F16));
  EXPECT_TRUE(is_gguf_type(GgmlType::MXFP4));
}

}  // namespace
}  // namespace quarrel
