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

}  // namespace
}  // namespace quarrel
