#include "gguf/gguf_file.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "gguf/keys.h"
#include "gguf/utf8.h"

namespace quarrel::gguf {
namespace {

// Limits that keep hostile files from costing time or memory out of proportion to their size.
constexpr int kMaxArrayDepth = 32;                  // nesting of arrays in metadata
constexpr uint64_t kMaxMetadataItems = 1ull << 23;  // array items in all metadata together (real
                                                    // files: ~1.5 M at most, a 256K vocabulary)
constexpr uint64_t kMaxCount = (1ull << 58);       // counts beyond this times 64 overflow
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;         // key length, type, smallest value
constexpr uint64_t kMinTensorInfoBytes = 8 + 4 + 8 + 4 + 8;  // name length, n_dims, one dim, type, offset

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }
bool checked_align(uint64_t x, uint64_t align, uint64_t* out) {
  uint64_t t;
  if (!checked_add(x, align - 1, &t)) return false;
  *out = t / align * align;
  return true;
}

std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u >= 0x20 && u < 0x7f) ? std::string(1, c) : fmt::format("\\x{:02x}", u);
  }
  if (s.size() > max) out += "...";
  return out;
}

}  // namespace

std::string format_shape(const std::vector<uint64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

std::string check_tensor_shape(GgmlType type, const std::vector<uint64_t>& shape, uint64_t* n_bytes) {
  const auto tr = ggml_type_traits(static_cast<uint32_t>(type));
  if (!tr) return fmt::format("has unknown type {}", static_cast<uint32_t>(type));
  if (shape.empty()) return "has 0 dimensions (at least 1)";
  if (shape.size() > kMaxDims) return fmt::format("has {} dimensions (at most {})", shape.size(), kMaxDims);
  uint64_t n = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0) return fmt::format("shape {}: dimension {} is zero", format_shape(shape), i);
    if (shape[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fmt::format("shape {}: dimension {} is too large", format_shape(shape), i);
    if (!checked_mul(n, shape[i], &n) || n > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return fmt::format("shape {}: element count overflows", format_shape(shape));
  }
  if (shape[0] % tr->block_size != 0)
    return fmt::format("shape {}: first dimension {} is not a multiple of the {} block size {}", format_shape(shape),
                       shape[0], tr->name, tr->block_size);
  uint64_t bytes;
  if (!checked_mul(n / tr->block_size, tr->type_size, &bytes))
    return fmt::format("shape {}: byte size overflows", format_shape(shape));
  if (n_bytes) *n_bytes = bytes;
  return {};
}

uint64_t TensorInfo::n_elements() const {
  uint64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

uint64_t TensorInfo::n_bytes() const {
  const auto tr = traits(type);
  return n_elements() / tr.block_size * tr.type_size;
}

// ---- parsing ------------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::span<const uint8_t> bytes, GgufFile& f) : b_(bytes), f_(f) {}

  void run() {
    header();
    metadata();
    alignment();
    tensor_infos();
    data_section();
  }

 private:
  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> fm, Args&&... args) {
    throw Error(ErrorCode::kInvalidFile, f_.path_ + ": " + fmt::format(fm, std::forward<Args>(args)...));
  }

  uint64_t left() const { return b_.size() - pos_; }

  void need(uint64_t n, std::string_view what) {
    if (n > left())
      bad("truncated file: {} needs {} bytes at offset {} but only {} remain", what, n, pos_, left());
  }

  template <typename T>
  T read(std::string_view what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(std::string_view what) {
    const uint64_t len = read<uint64_t>(what);
    if (len > left())
      bad("truncated file: {} claims {} bytes at offset {} but only {} remain", what, len, pos_, left());
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), static_cast<size_t>(len));
    const size_t badpos = find_invalid_utf8(s);
    if (badpos != std::string::npos)
      bad("{} is not valid UTF-8 (byte {} of \"{}\")", what, badpos, printable(s));
    pos_ += len;
    return s;
  }

  ValueType read_type(std::string_view what) {
    const uint32_t t = read<uint32_t>(what);
    if (!is_valid_value_type(t)) bad("{}: unknown value type {}", what, t);
    return static_cast<ValueType>(t);
  }

  // Smallest encoding of a value of type t (for bounding counts before reserving).
  static uint64_t min_size(ValueType t) {
    if (t == ValueType::kString) return 8;
    if (t == ValueType::kArray) return 12;
    return scalar_size(t);
  }

  Value read_value(ValueType t, const std::string& ctx, int depth) {
    switch (t) {
      case ValueType::kU8: return Value::u8(read<uint8_t>(ctx));
      case ValueType::kI8: return Value::i8(read<int8_t>(ctx));
      case ValueType::kU16: return Value::u16(read<uint16_t>(ctx));
      case ValueType::kI16: return Value::i16(read<int16_t>(ctx));
      case ValueType::kU32: return Value::u32(read<uint32_t>(ctx));
      case ValueType::kI32: return Value::i32(read<int32_t>(ctx));
      case ValueType::kF32: return Value::f32(read<float>(ctx));
      case ValueType::kBool: {
        const uint8_t v = read<uint8_t>(ctx);
        if (v > 1) bad("{}: bool value {} is neither 0 nor 1", ctx, v);
        return Value::boolean(v != 0);
      }
      case ValueType::kString: return Value::string(read_string(ctx + " (string)"));
      case ValueType::kU64: return Value::u64(read<uint64_t>(ctx));
      case ValueType::kI64: return Value::i64(read<int64_t>(ctx));
      case ValueType::kF64: return Value::f64(read<double>(ctx));
      case ValueType::kArray: {
        if (depth >= kMaxArrayDepth) bad("{}: arrays nested more than {} deep", ctx, kMaxArrayDepth);
        const ValueType elem = read_type(ctx + " (array element type)");
        const uint64_t count = read<uint64_t>(ctx + " (array length)");
        if (count > left() / min_size(elem))
          bad("truncated file or corrupt count: {}: array of {} {} values needs at least {} bytes at offset {} but "
              "only {} remain",
              ctx, count, value_type_name(elem),
              count > kMaxCount ? std::string("2^64 or more") : std::to_string(count * min_size(elem)), pos_, left());
        items_ += count;
        if (items_ > kMaxMetadataItems)
          bad("{}: metadata arrays hold more than {} items in all", ctx, kMaxMetadataItems);
        std::vector<Value> items;
        items.reserve(static_cast<size_t>(count));
        for (uint64_t i = 0; i < count; ++i) items.push_back(read_value(elem, ctx, depth + 1));
        return Value::array(elem, std::move(items));
      }
    }
    bad("{}: unknown value type {}", ctx, static_cast<uint32_t>(t));
  }

  // A count is impossible when even the smallest entries would not fit in the bytes left.
  void check_count(uint64_t count, uint64_t min_bytes, std::string_view what) {
    if (count > left() / min_bytes)
      bad("truncated file or corrupt count: {} {} needs at least {} bytes but only {} remain", what, count,
          count > kMaxCount ? std::string("2^64 or more") : std::to_string(count * min_bytes), left());
  }

  void header() {
    if (b_.size() < 4 || std::memcmp(b_.data(), "GGUF", 4) != 0) {
      const std::string_view magic(reinterpret_cast<const char*>(b_.data()), std::min<size_t>(4, b_.size()));
      bad("not a GGUF file (starts with \"{}\", expected \"GGUF\")", printable(magic));
    }
    pos_ = 4;
    const uint32_t version = read<uint32_t>("the version");
    if (version == 1) bad("GGUF version 1 is not supported (only versions 2 and 3)");
    if (version != 2 && version != 3) {
      if (__builtin_bswap32(version) == 2 || __builtin_bswap32(version) == 3)
        bad("big-endian GGUF files are not supported");
      bad("unsupported GGUF version {} (only versions 2 and 3)", version);
    }
    f_.version_ = version;
    n_tensors_ = read<uint64_t>("the tensor count");
    n_kv_ = read<uint64_t>("the metadata count");
    check_count(n_kv_, kMinKvBytes, "metadata count");
    check_count(n_tensors_, kMinTensorInfoBytes, "tensor count");
  }

  void metadata() {
    f_.metadata_.reserve(static_cast<size_t>(n_kv_));
    for (uint64_t i = 0; i < n_kv_; ++i) {
      const uint64_t at = pos_;
      std::string key = read_string(fmt::format("metadata key #{}", i));
      if (key.empty()) bad("metadata key #{} at offset {} is empty", i, at);
      const std::string ctx = fmt::format("metadata key '{}'", key);
      if (f_.key_index_.count(key)) bad("duplicate metadata key '{}' (at offset {})", key, at);
      const ValueType t = read_type(ctx + " (value type)");
      Value v = read_value(t, ctx, 0);
      f_.key_index_.emplace(key, f_.metadata_.size());
      f_.metadata_.emplace_back(std::move(key), std::move(v));
    }
  }

  void alignment() {
    const Value* a = f_.find(keys::kGeneralAlignment);
    if (!a) return;
    if (!a->is_integer()) bad("general.alignment must be an integer, found {}", value_type_name(a->type()));
    const bool negative = a->as_float() < 0;
    const uint64_t v = negative ? 0 : a->as_uint();
    if (negative || v == 0 || !std::has_single_bit(v))
      bad("general.alignment must be a nonzero power of two, found {}", a->to_display());
    f_.alignment_ = v;
  }

  void tensor_infos() {
    f_.tensors_.reserve(static_cast<size_t>(n_tensors_));
    for (uint64_t i = 0; i < n_tensors_; ++i) {
      const uint64_t at = pos_;
      TensorInfo t;
      t.name = read_string(fmt::format("tensor #{} name", i));
      if (t.name.empty()) bad("tensor #{} at offset {} has an empty name", i, at);
      const std::string ctx = fmt::format("tensor '{}'", t.name);
      if (f_.tensor_index_.count(t.name)) bad("duplicate tensor name '{}' (at offset {})", t.name, at);
      const uint32_t n_dims = read<uint32_t>(ctx + " (dimension count)");
      if (n_dims == 0) bad("{} has 0 dimensions (at least 1)", ctx);
      if (n_dims > kMaxDims) bad("{} has {} dimensions (at most {})", ctx, n_dims, kMaxDims);
      t.shape.resize(n_dims);
      for (uint32_t d = 0; d < n_dims; ++d) t.shape[d] = read<uint64_t>(ctx + " (shape)");
      const uint32_t type = read<uint32_t>(ctx + " (type)");
      if (!ggml_type_traits(type)) bad("{} has unknown tensor type {}", ctx, type);
      t.type = static_cast<GgmlType>(type);
      t.offset = read<uint64_t>(ctx + " (offset)");
      const std::string problem = check_tensor_shape(t.type, t.shape);
      if (!problem.empty()) bad("{} ({}) {}", ctx, type_name(t.type), problem);
      if (t.offset % f_.alignment_ != 0)
        bad("{}: offset {} is misaligned (not a multiple of the alignment {})", ctx, t.offset, f_.alignment_);
      f_.tensor_index_.emplace(t.name, f_.tensors_.size());
      f_.tensors_.push_back(std::move(t));
    }
  }

  void data_section() {
    uint64_t data = 0;
    if (!checked_align(pos_, f_.alignment_, &data))
      bad("data section offset overflows (alignment {})", f_.alignment_);
    f_.data_offset_ = data;
    if (f_.tensors_.empty()) return;
    if (data > b_.size())
      bad("truncated file: the data section starts at offset {} but the file has {} bytes", data, b_.size());
    const uint64_t data_size = b_.size() - data;
    for (const auto& t : f_.tensors_) {
      const uint64_t n = t.n_bytes();
      uint64_t end;
      if (!checked_add(t.offset, n, &end) || end > data_size)
        bad("tensor '{}' ({} {}, {} bytes at data offset {}) lies outside the file: the data section has {} bytes",
            t.name, type_name(t.type), format_shape(t.shape), n, t.offset, data_size);
    }
    std::vector<size_t> order(f_.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f_.tensors_[a].offset < f_.tensors_[b].offset; });
    for (size_t i = 1; i < order.size(); ++i) {
      const auto& a = f_.tensors_[order[i - 1]];
      const auto& b = f_.tensors_[order[i]];
      if (a.offset + a.n_bytes() > b.offset)
        bad("tensors '{}' and '{}' overlap: '{}' ({} {}) needs {} bytes at data offset {} but '{}' starts at {}",
            a.name, b.name, a.name, type_name(a.type), format_shape(a.shape), a.n_bytes(), a.offset, b.name, b.offset);
    }
  }

  std::span<const uint8_t> b_;
  GgufFile& f_;
  uint64_t pos_ = 0;
  uint64_t n_tensors_ = 0;
  uint64_t n_kv_ = 0;
  uint64_t items_ = 0;
};

GgufFile GgufFile::parse(std::span<const uint8_t> bytes, std::string name) {
  GgufFile f;
  f.path_ = std::move(name);
  f.bytes_ = bytes;
  Parser(bytes, f).run();
  return f;
}

GgufFile GgufFile::open(const std::string& path) {
  MappedFile map = MappedFile::open(path);
  const std::span<const uint8_t> bytes = map.bytes();
  GgufFile f = parse(bytes, path);
  f.map_ = std::move(map);
  return f;
}

// ---- access -------------------------------------------------------------------------------

const Value* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(std::string(key));
  return it == key_index_.end() ? nullptr : &metadata_[it->second].second;
}

const Value& GgufFile::get(std::string_view key) const {
  const Value* v = find(key);
  if (!v) fail(ErrorCode::kNotFound, "{}: missing required key '{}'", path_, key);
  return *v;
}

namespace {
// Runs f on the value, prefixing a type error with the file and key.
template <typename F>
auto typed(const std::string& path, std::string_view key, const Value& v, F f) {
  try {
    return f(v);
  } catch (const Error& e) {
    throw Error(e.code(), fmt::format("{}: key '{}': {}", path, key, e.what()));
  }
}
}  // namespace

std::string GgufFile::get_string(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_string(); });
}
uint64_t GgufFile::get_uint(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_uint(); });
}
int64_t GgufFile::get_int(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_int(); });
}
double GgufFile::get_float(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_float(); });
}
bool GgufFile::get_bool(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_bool(); });
}
std::vector<std::string> GgufFile::get_string_array(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_string_array(); });
}
std::vector<int64_t> GgufFile::get_int_array(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_int_array(); });
}
std::vector<float> GgufFile::get_float_array(std::string_view key) const {
  return typed(path_, key, get(key), [](const Value& v) { return v.as_float_array(); });
}

std::string GgufFile::get_string_or(std::string_view key, std::string def) const {
  return has(key) ? get_string(key) : def;
}
uint64_t GgufFile::get_uint_or(std::string_view key, uint64_t def) const { return has(key) ? get_uint(key) : def; }
int64_t GgufFile::get_int_or(std::string_view key, int64_t def) const { return has(key) ? get_int(key) : def; }
double GgufFile::get_float_or(std::string_view key, double def) const { return has(key) ? get_float(key) : def; }
bool GgufFile::get_bool_or(std::string_view key, bool def) const { return has(key) ? get_bool(key) : def; }

std::string GgufFile::architecture() const { return get_string(keys::kGeneralArchitecture); }

std::string GgufFile::arch_key(std::string_view suffix) const { return architecture() + "." + std::string(suffix); }

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(std::string(name));
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& GgufFile::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) fail(ErrorCode::kNotFound, "{}: tensor '{}' not found", path_, name);
  return *t;
}

std::span<const uint8_t> GgufFile::tensor_data(const TensorInfo& t) const {
  const uint64_t n = t.n_bytes();
  uint64_t start, end;
  if (!checked_add(data_offset_, t.offset, &start) || !checked_add(start, n, &end) || end > bytes_.size())
    fail(ErrorCode::kInvalidArgument, "{}: tensor '{}' is not in this file", path_, t.name);
  return bytes_.subspan(static_cast<size_t>(start), static_cast<size_t>(n));
}

}  // namespace quarrel::gguf
