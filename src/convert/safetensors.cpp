#include "convert/safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"

namespace quarrel::convert {
namespace {

using json = nlohmann::json;

// The reference implementation refuses headers above 100 MB; so do we.
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr size_t kMaxDims = 8;

struct DtypeName {
  std::string_view name;
  StDtype type;
  size_t size;
};
constexpr DtypeName kDtypes[] = {
    {"F64", StDtype::kF64, 8},   {"F32", StDtype::kF32, 4},   {"F16", StDtype::kF16, 2},
    {"BF16", StDtype::kBF16, 2}, {"I64", StDtype::kI64, 8},   {"I32", StDtype::kI32, 4},
    {"I16", StDtype::kI16, 2},   {"I8", StDtype::kI8, 1},     {"U8", StDtype::kU8, 1},
    {"BOOL", StDtype::kBool, 1}, {"F8_E4M3", StDtype::kF8E4M3, 1}, {"F8_E5M2", StDtype::kF8E5M2, 1},
};

uint64_t read_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// Product of the dims, or UINT64_MAX on overflow.
uint64_t checked_product(const std::vector<int64_t>& shape) {
  uint64_t n = 1;
  for (int64_t d : shape) {
    const auto u = static_cast<uint64_t>(d);
    if (u != 0 && n > std::numeric_limits<uint64_t>::max() / u) return std::numeric_limits<uint64_t>::max();
    n *= u;
  }
  return n;
}

}  // namespace

StDtype parse_st_dtype(std::string_view name) {
  for (const auto& d : kDtypes)
    if (d.name == name) return d.type;
  return StDtype::kOther;
}

size_t st_dtype_size(StDtype t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d.size;
  return 0;
}

int64_t SafetensorsTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string format_st_shape(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  SafetensorsFile f;
  f.map_ = MappedFile::open(path);
  f.path_ = std::make_unique<std::string>(path);
  f.parse_header(f.map_.bytes());
  return f;
}

SafetensorsFile SafetensorsFile::parse(std::span<const uint8_t> bytes, std::string name) {
  SafetensorsFile f;
  f.path_ = std::make_unique<std::string>(std::move(name));
  f.parse_header(bytes);
  return f;
}

void SafetensorsFile::parse_header(std::span<const uint8_t> bytes) {
  const std::string& p = *path_;
  if (bytes.size() < 8)
    fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: the file has {} bytes, shorter than the 8-byte header length", p,
         bytes.size());
  const uint64_t n = read_u64_le(bytes.data());
  if (n > kMaxHeaderBytes)
    fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: header length {} is over the 100 MiB limit", p, n);
  if (n > bytes.size() - 8)
    fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: header length {} runs past the end of the file ({} bytes)",
         p, n, bytes.size());
  if (n < 2) fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: header length {} is too short", p, n);
  const auto* hdr = reinterpret_cast<const char*>(bytes.data() + 8);
  json h = json::parse(hdr, hdr + n, nullptr, /*allow_exceptions=*/false);
  if (h.is_discarded())
    fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: the {} header bytes are not valid JSON", p, n);
  if (!h.is_object()) fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: the header is not a JSON object", p);

  const std::span<const uint8_t> data = bytes.subspan(8 + n);
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    const json& e = it.value();
    if (name == "__metadata__") {
      if (!e.is_object()) fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: __metadata__ is not an object", p);
      for (auto m = e.begin(); m != e.end(); ++m)
        if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](std::string_view what) {
      fail(ErrorCode::kInvalidFile, "{}: bad safetensors header: tensor '{}': {}", p, name, what);
    };
    if (!e.is_object()) bad("entry is not an object");
    const auto dt = e.find("dtype");
    const auto sh = e.find("shape");
    const auto off = e.find("data_offsets");
    if (dt == e.end() || !dt->is_string()) bad("missing or non-string 'dtype'");
    if (sh == e.end() || !sh->is_array()) bad("missing or non-array 'shape'");
    if (off == e.end() || !off->is_array() || off->size() != 2) bad("'data_offsets' is not a [begin, end] pair");
    SafetensorsTensor t;
    t.name = name;
    t.dtype_name = dt->get<std::string>();
    t.dtype = parse_st_dtype(t.dtype_name);
    t.file = path_.get();
    if (sh->size() > kMaxDims) bad(fmt::format("{} dimensions (at most {})", sh->size(), kMaxDims));
    for (const json& d : *sh) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<int64_t>() >= 0))
        bad("shape has an entry that is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v > (uint64_t{1} << 40)) bad(fmt::format("dimension {} is absurdly large", v));
      t.shape.push_back(static_cast<int64_t>(v));
    }
    for (const json& o : *off)
      if (!o.is_number_unsigned() && !(o.is_number_integer() && o.get<int64_t>() >= 0))
        bad("data_offsets has an entry that is not a non-negative integer");
    const uint64_t begin = (*off)[0].get<uint64_t>(), end = (*off)[1].get<uint64_t>();
    if (begin > end) bad(fmt::format("data_offsets [{}, {}] end before they begin", begin, end));
    if (end > data.size())
      bad(fmt::format("data_offsets [{}, {}] run past the end of the data ({} bytes; the file is truncated?)", begin,
                      end, data.size()));
    const size_t es = st_dtype_size(t.dtype);
    if (es != 0) {
      const uint64_t ne = checked_product(t.shape);
      if (ne == std::numeric_limits<uint64_t>::max() || ne > std::numeric_limits<uint64_t>::max() / es ||
          ne * es != end - begin)
        bad(fmt::format("shape {} of {} needs {} bytes but data_offsets [{}, {}] hold {}", format_st_shape(t.shape),
                        t.dtype_name, ne == std::numeric_limits<uint64_t>::max() ? 0 : ne * es, begin, end,
                        end - begin));
    }
    t.data = data.subspan(begin, end - begin);
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
  // Order by data offset (the JSON object is sorted by name), and rebuild the index.
  std::stable_sort(tensors_.begin(), tensors_.end(),
                   [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.data.data() < b.data.data(); });
  index_.clear();
  for (size_t i = 0; i < tensors_.size(); ++i) index_[tensors_[i].name] = i;
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

void read_as_f32(const SafetensorsTensor& t, int64_t first, int64_t n, float* dst) {
  QUARREL_ASSERT(first >= 0 && n >= 0 && first + n <= t.n_elements());
  const uint8_t* src = t.data.data();
  switch (t.dtype) {
    case StDtype::kF32:
      std::memcpy(dst, src + first * 4, static_cast<size_t>(n) * 4);
      return;
    case StDtype::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + (first + i) * 2, 2);
        dst[i] = fp16_to_f32(h);
      }
      return;
    case StDtype::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + (first + i) * 2, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
    default:
      fail(ErrorCode::kUnsupported, "{}: tensor '{}' has dtype {}; convert reads F32, F16 and BF16 tensors",
           t.file ? *t.file : std::string("?"), t.name, t.dtype_name);
  }
}

}  // namespace quarrel::convert
