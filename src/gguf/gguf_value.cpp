#include "gguf/gguf_value.h"

#include <fmt/format.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.h"

namespace quarrel::gguf {

std::string_view value_type_name(ValueType t) {
  switch (t) {
    case ValueType::kU8: return "u8";
    case ValueType::kI8: return "i8";
    case ValueType::kU16: return "u16";
    case ValueType::kI16: return "i16";
    case ValueType::kU32: return "u32";
    case ValueType::kI32: return "i32";
    case ValueType::kF32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kU64: return "u64";
    case ValueType::kI64: return "i64";
    case ValueType::kF64: return "f64";
  }
  return "unknown";
}

bool is_valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::kF64); }

size_t scalar_size(ValueType t) {
  switch (t) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kBool: return 1;
    case ValueType::kU16: case ValueType::kI16: return 2;
    case ValueType::kU32: case ValueType::kI32: case ValueType::kF32: return 4;
    case ValueType::kU64: case ValueType::kI64: case ValueType::kF64: return 8;
    case ValueType::kString: case ValueType::kArray: return 0;
  }
  return 0;
}

Value Value::scalar(ValueType t, uint64_t bits) {
  Value v;
  v.type_ = t;
  v.bits_ = bits;
  return v;
}

Value Value::u8(uint8_t v) { return scalar(ValueType::kU8, v); }
Value Value::i8(int8_t v) { return scalar(ValueType::kI8, static_cast<uint8_t>(v)); }
Value Value::u16(uint16_t v) { return scalar(ValueType::kU16, v); }
Value Value::i16(int16_t v) { return scalar(ValueType::kI16, static_cast<uint16_t>(v)); }
Value Value::u32(uint32_t v) { return scalar(ValueType::kU32, v); }
Value Value::i32(int32_t v) { return scalar(ValueType::kI32, static_cast<uint32_t>(v)); }
Value Value::f32(float v) { return scalar(ValueType::kF32, std::bit_cast<uint32_t>(v)); }
Value Value::boolean(bool v) { return scalar(ValueType::kBool, v ? 1 : 0); }
Value Value::u64(uint64_t v) { return scalar(ValueType::kU64, v); }
Value Value::i64(int64_t v) { return scalar(ValueType::kI64, static_cast<uint64_t>(v)); }
Value Value::f64(double v) { return scalar(ValueType::kF64, std::bit_cast<uint64_t>(v)); }

Value Value::string(std::string s) {
  Value v;
  v.type_ = ValueType::kString;
  auto p = std::make_shared<Payload>();
  p->str = std::move(s);
  v.payload_ = std::move(p);
  return v;
}

Value Value::array(ValueType elem, std::vector<Value> items) {
  if (!is_valid_value_type(static_cast<uint32_t>(elem)))
    fail(ErrorCode::kInvalidArgument, "array element type {} is not a GGUF value type", static_cast<uint32_t>(elem));
  for (size_t i = 0; i < items.size(); ++i)
    if (items[i].type() != elem)
      fail(ErrorCode::kInvalidArgument, "array of {}: item {} has type {}", value_type_name(elem), i,
           value_type_name(items[i].type()));
  Value v;
  v.type_ = ValueType::kArray;
  v.elem_ = elem;
  auto p = std::make_shared<Payload>();
  p->items = std::move(items);
  v.payload_ = std::move(p);
  return v;
}

Value Value::string_array(const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(string(s));
  return array(ValueType::kString, std::move(items));
}

Value Value::i32_array(const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (auto x : v) items.push_back(i32(x));
  return array(ValueType::kI32, std::move(items));
}

Value Value::f32_array(const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (auto x : v) items.push_back(f32(x));
  return array(ValueType::kF32, std::move(items));
}

bool Value::is_integer() const {
  switch (type_) {
    case ValueType::kU8: case ValueType::kI8: case ValueType::kU16: case ValueType::kI16:
    case ValueType::kU32: case ValueType::kI32: case ValueType::kU64: case ValueType::kI64:
      return true;
    default:
      return false;
  }
}

bool Value::is_float() const { return type_ == ValueType::kF32 || type_ == ValueType::kF64; }

namespace {
bool is_signed_int(ValueType t) {
  return t == ValueType::kI8 || t == ValueType::kI16 || t == ValueType::kI32 || t == ValueType::kI64;
}
// Sign-extends the stored bits of a signed type.
int64_t signed_value(ValueType t, uint64_t bits) {
  switch (t) {
    case ValueType::kI8: return static_cast<int8_t>(static_cast<uint8_t>(bits));
    case ValueType::kI16: return static_cast<int16_t>(static_cast<uint16_t>(bits));
    case ValueType::kI32: return static_cast<int32_t>(static_cast<uint32_t>(bits));
    default: return static_cast<int64_t>(bits);
  }
}
}  // namespace

int64_t Value::as_int() const {
  if (!is_integer()) fail(ErrorCode::kInvalidFile, "expected an integer, found {}", value_type_name(type_));
  if (is_signed_int(type_)) return signed_value(type_, bits_);
  if (bits_ > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    fail(ErrorCode::kInvalidFile, "integer {} is out of range", bits_);
  return static_cast<int64_t>(bits_);
}

uint64_t Value::as_uint() const {
  if (!is_integer()) fail(ErrorCode::kInvalidFile, "expected an unsigned integer, found {}", value_type_name(type_));
  if (is_signed_int(type_)) {
    const int64_t v = signed_value(type_, bits_);
    if (v < 0) fail(ErrorCode::kInvalidFile, "expected a non-negative integer, found {}", v);
    return static_cast<uint64_t>(v);
  }
  return bits_;
}

double Value::as_float() const {
  if (type_ == ValueType::kF32) return std::bit_cast<float>(static_cast<uint32_t>(bits_));
  if (type_ == ValueType::kF64) return std::bit_cast<double>(bits_);
  if (is_integer()) return is_signed_int(type_) ? static_cast<double>(signed_value(type_, bits_)) : static_cast<double>(bits_);
  fail(ErrorCode::kInvalidFile, "expected a number, found {}", value_type_name(type_));
}

bool Value::as_bool() const {
  if (type_ != ValueType::kBool) fail(ErrorCode::kInvalidFile, "expected a bool, found {}", value_type_name(type_));
  return bits_ != 0;
}

const std::string& Value::as_string() const {
  if (type_ != ValueType::kString) fail(ErrorCode::kInvalidFile, "expected a string, found {}", value_type_name(type_));
  return payload_->str;
}

ValueType Value::array_type() const {
  if (type_ != ValueType::kArray) fail(ErrorCode::kInvalidFile, "expected an array, found {}", value_type_name(type_));
  return elem_;
}

size_t Value::size() const { return items().size(); }

const std::vector<Value>& Value::items() const {
  if (type_ != ValueType::kArray) fail(ErrorCode::kInvalidFile, "expected an array, found {}", value_type_name(type_));
  return payload_->items;
}

std::vector<std::string> Value::as_string_array() const {
  const auto& it = items();
  if (elem_ != ValueType::kString)
    fail(ErrorCode::kInvalidFile, "expected an array of strings, found an array of {}", value_type_name(elem_));
  std::vector<std::string> out;
  out.reserve(it.size());
  for (const auto& v : it) out.push_back(v.as_string());
  return out;
}

std::vector<int64_t> Value::as_int_array() const {
  const auto& it = items();
  if (it.empty()) return {};
  if (!Value::scalar(elem_, 0).is_integer())
    fail(ErrorCode::kInvalidFile, "expected an array of integers, found an array of {}", value_type_name(elem_));
  std::vector<int64_t> out;
  out.reserve(it.size());
  for (const auto& v : it) out.push_back(v.as_int());
  return out;
}

std::vector<float> Value::as_float_array() const {
  const auto& it = items();
  if (it.empty()) return {};
  const Value probe = Value::scalar(elem_, 0);
  if (!probe.is_integer() && !probe.is_float())
    fail(ErrorCode::kInvalidFile, "expected an array of numbers, found an array of {}", value_type_name(elem_));
  std::vector<float> out;
  out.reserve(it.size());
  for (const auto& v : it) out.push_back(static_cast<float>(v.as_float()));
  return out;
}

bool Value::operator==(const Value& o) const {
  if (type_ != o.type_) return false;
  if (type_ == ValueType::kString) return payload_->str == o.payload_->str;
  if (type_ == ValueType::kArray) {
    if (elem_ != o.elem_) return false;
    if (payload_ == o.payload_) return true;
    return payload_->items == o.payload_->items;
  }
  if (type_ == ValueType::kBool) return (bits_ != 0) == (o.bits_ != 0);
  return bits_ == o.bits_;
}

namespace {
std::string quote(std::string_view s, size_t max_chars) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : s) {
    if (n++ >= max_chars) {
      out += "...";
      break;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20)
          out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
          out += c;
    }
  }
  out += "\"";
  return out;
}
}  // namespace

std::string Value::to_display(size_t max_items, size_t max_chars) const {
  switch (type_) {
    case ValueType::kString: return quote(payload_->str, max_chars);
    case ValueType::kBool: return bits_ ? "true" : "false";
    case ValueType::kF32: return fmt::format("{}", static_cast<float>(as_float()));  // shortest float form
    case ValueType::kF64: return fmt::format("{}", as_float());
    case ValueType::kArray: {
      const auto& it = payload_->items;
      std::string out = fmt::format("[{} x {}", value_type_name(elem_), it.size());
      if (!it.empty()) out += ": ";
      for (size_t i = 0; i < it.size() && i < max_items; ++i) {
        if (i) out += ", ";
        out += it[i].to_display(max_items, std::min<size_t>(max_chars, 40));
      }
      if (it.size() > max_items) out += ", ...";
      out += "]";
      return out;
    }
    default:
      return is_signed_int(type_) ? fmt::format("{}", signed_value(type_, bits_)) : fmt::format("{}", bits_);
  }
}

}  // namespace quarrel::gguf
