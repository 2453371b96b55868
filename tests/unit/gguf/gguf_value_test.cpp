#include "gguf/gguf_value.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/error.h"
#include "gguf/file_type.h"
#include "gguf/utf8.h"

namespace quarrel::gguf {
namespace {

TEST(GgufValue, ScalarsReadBack) {
  EXPECT_EQ(Value::u8(200).as_int(), 200);
  EXPECT_EQ(Value::i8(-5).as_int(), -5);
  EXPECT_EQ(Value::u16(65535).as_uint(), 65535u);
  EXPECT_EQ(Value::i16(-300).as_int(), -300);
  EXPECT_EQ(Value::u32(4000000000u).as_uint(), 4000000000u);
  EXPECT_EQ(Value::i32(-7).as_int(), -7);
  EXPECT_EQ(Value::u64(~0ull).as_uint(), ~0ull);
  EXPECT_EQ(Value::i64(std::numeric_limits<int64_t>::min()).as_int(), std::numeric_limits<int64_t>::min());
  EXPECT_FLOAT_EQ(static_cast<float>(Value::f32(1.5f).as_float()), 1.5f);
  EXPECT_DOUBLE_EQ(Value::f64(-2.25).as_float(), -2.25);
  EXPECT_DOUBLE_EQ(Value::u32(10).as_float(), 10.0);  // integers read as floats
  EXPECT_TRUE(Value::boolean(true).as_bool());
  EXPECT_EQ(Value::string("héllo").as_string(), "héllo");
}

TEST(GgufValue, WrongTypeOrRangeThrows) {
  EXPECT_THROW(Value::string("x").as_int(), Error);
  EXPECT_THROW(Value::f32(1).as_int(), Error);
  EXPECT_THROW(Value::i32(-1).as_uint(), Error);
  EXPECT_THROW(Value::u64(~0ull).as_int(), Error);
  EXPECT_THROW(Value::u8(1).as_bool(), Error);
  EXPECT_THROW(Value::u8(1).as_string(), Error);
  EXPECT_THROW(Value::u8(1).items(), Error);
  EXPECT_THROW(Value::string_array({"a"}).as_int_array(), Error);
  try {
    Value::string("x").as_uint();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_NE(std::string(e.what()).find("found string"), std::string::npos) << e.what();
  }
}

TEST(GgufValue, Arrays) {
  auto s = Value::string_array({"a", "bc", ""});
  EXPECT_TRUE(s.is_array());
  EXPECT_EQ(s.array_type(), ValueType::kString);
  EXPECT_EQ(s.size(), 3u);
  EXPECT_EQ(s.as_string_array(), (std::vector<std::string>{"a", "bc", ""}));
  EXPECT_EQ(Value::i32_array({1, -2}).as_int_array(), (std::vector<int64_t>{1, -2}));
  EXPECT_EQ(Value::f32_array({0.5f}).as_float_array(), (std::vector<float>{0.5f}));
  auto nested = Value::array(ValueType::kArray, {Value::i32_array({1}), Value::string_array({"x", "y"})});
  EXPECT_EQ(nested.items()[1].as_string_array()[1], "y");
  EXPECT_THROW(Value::array(ValueType::kU8, {Value::u16(1)}), Error);
}

TEST(GgufValue, Equality) {
  EXPECT_EQ(Value::u32(1), Value::u32(1));
  EXPECT_NE(Value::u32(1), Value::i32(1));
  EXPECT_NE(Value::u32(1), Value::u32(2));
  EXPECT_EQ(Value::string_array({"a"}), Value::string_array({"a"}));
  EXPECT_NE(Value::string_array({"a"}), Value::string_array({"b"}));
  EXPECT_EQ(Value::f32(std::nanf("")), Value::f32(std::nanf("")));
}

TEST(GgufValue, Display) {
  EXPECT_EQ(Value::string("a\"b\n").to_display(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Value::i32_array({1, 2, 3}).to_display(2), "[i32 x 3: 1, 2, ...]");
  EXPECT_EQ(Value::boolean(false).to_display(), "false");
  EXPECT_EQ(value_type_name(ValueType::kF64), "f64");
}

TEST(GgufUtf8, Validation) {
  EXPECT_TRUE(is_valid_utf8("plain ascii and long enough to hit the fast path"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xff"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(is_valid_utf8("abc\xe2\x82"));       // truncated
  EXPECT_EQ(find_invalid_utf8("abcdefghij\x80"), 10u);
}

TEST(GgufFileType, Names) {
  EXPECT_EQ(file_type_name(15).value(), "MOSTLY_Q4_K_M");
  EXPECT_EQ(file_type_name(0).value(), "ALL_F32");
  EXPECT_FALSE(file_type_name(4000).has_value());
  EXPECT_EQ(file_type_from_name("q4_k_m").value(), 15u);
  EXPECT_EQ(file_type_from_name("MOSTLY_Q6_K").value(), 18u);
  EXPECT_EQ(file_type_from_name("F32").value(), 0u);
  EXPECT_FALSE(file_type_from_name("Q9_K").has_value());
}

}  // namespace
}  // namespace quarrel::gguf
