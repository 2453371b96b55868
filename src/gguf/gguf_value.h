#pragma once
// One GGUF metadata value: a scalar, a string, or an array of values (arrays may nest).
// Values are immutable once built and cheap to copy (strings and arrays are shared).
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::gguf {

// Value types as numbered in the GGUF format.
enum class ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};

// "u8", "i32", "f32", "bool", "string", "array", ... ; "unknown" for a number out of range.
std::string_view value_type_name(ValueType t);
// True for the 13 numbers the format defines.
bool is_valid_value_type(uint32_t t);
// Encoded size of a scalar type in bytes (0 for string / array).
size_t scalar_size(ValueType t);

class Value {
 public:
  Value() = default;  // a u8 zero; only useful as a placeholder

  // Constructors for the writer.
  static Value u8(uint8_t v);
  static Value i8(int8_t v);
  static Value u16(uint16_t v);
  static Value i16(int16_t v);
  static Value u32(uint32_t v);
  static Value i32(int32_t v);
  static Value f32(float v);
  static Value boolean(bool v);
  static Value string(std::string v);
  static Value u64(uint64_t v);
  static Value i64(int64_t v);
  static Value f64(double v);
  // Every item must have type `elem` (throws Error(kInvalidArgument) otherwise); for
  // elem == kArray the items are arrays themselves, each with its own element type.
  static Value array(ValueType elem, std::vector<Value> items);
  static Value string_array(const std::vector<std::string>& v);
  static Value i32_array(const std::vector<int32_t>& v);
  static Value f32_array(const std::vector<float>& v);

  ValueType type() const { return type_; }
  bool is_integer() const;  // u8..i64 (not bool)
  bool is_float() const;    // f32, f64
  bool is_string() const { return type_ == ValueType::kString; }
  bool is_array() const { return type_ == ValueType::kArray; }
  bool is_bool() const { return type_ == ValueType::kBool; }

  // Typed reads; throw Error(kInvalidFile) on a wrong type or a value out of range.
  int64_t as_int() const;            // any integer type that fits int64
  uint64_t as_uint() const;          // any non-negative integer
  double as_float() const;           // f32, f64, or any integer
  bool as_bool() const;              // bool
  const std::string& as_string() const;

  // Arrays (throw Error(kInvalidFile) when this is not an array).
  ValueType array_type() const;
  size_t size() const;
  const std::vector<Value>& items() const;
  std::vector<std::string> as_string_array() const;  // array of strings
  std::vector<int64_t> as_int_array() const;         // array of integers
  std::vector<float> as_float_array() const;         // array of floats or integers

  // Same type, same value (floats compared bitwise, so NaN == NaN and 0.0 != -0.0).
  bool operator==(const Value& o) const;
  bool operator!=(const Value& o) const { return !(*this == o); }

  // Raw scalar bits as stored (little-endian value zero-extended to 64 bits).
  uint64_t raw_bits() const { return bits_; }
  // A short human-readable rendering: scalars in full, strings quoted (cut after max_chars),
  // arrays as "[type x N: first items ...]".
  std::string to_display(size_t max_items = 8, size_t max_chars = 120) const;

 private:
  struct Payload {
    std::string str;
    std::vector<Value> items;
  };
  static Value scalar(ValueType t, uint64_t bits);

  ValueType type_ = ValueType::kU8;
  ValueType elem_ = ValueType::kU8;  // arrays only
  uint64_t bits_ = 0;                // scalars: the raw little-endian bits
  std::shared_ptr<const Payload> payload_;  // strings and arrays
};

}  // namespace quarrel::gguf
