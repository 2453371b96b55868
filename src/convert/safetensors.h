#pragma once
// Safetensors reader (https://huggingface.co/docs/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON header {"name": {"dtype", "shape", "data_offsets": [begin, end]},
// "__metadata__": {...}}, then the raw tensor bytes (row-major, little-endian), offsets
// relative to the end of the header. The file is mmap'd; tensor data stays in the mapping.
// Every length, offset and size is checked against the file, so a truncated or hostile file
// is an Error naming the file and the problem, never a crash or a huge allocation.
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/mapped_file.h"

namespace quarrel::convert {

enum class StDtype { kF64, kF32, kF16, kBF16, kI64, kI32, kI16, kI8, kU8, kBool, kF8E4M3, kF8E5M2, kOther };

// "F32" -> kF32 ...; kOther for a name the format does not define here.
StDtype parse_st_dtype(std::string_view name);
// Bytes per element; 0 for kOther.
size_t st_dtype_size(StDtype t);

struct SafetensorsTensor {
  std::string name;
  std::string dtype_name;       // as written ("BF16")
  StDtype dtype = StDtype::kOther;
  std::vector<int64_t> shape;   // row-major, outermost first (PyTorch order); {} for a scalar
  std::span<const uint8_t> data;
  const std::string* file = nullptr;  // the path of the file holding it

  int64_t n_elements() const;
  // The innermost dimension (1 for a scalar): a "row" of a row-major tensor.
  int64_t row_length() const { return shape.empty() ? 1 : shape.back(); }
  int64_t n_rows() const { return row_length() == 0 ? 0 : n_elements() / row_length(); }
  // Whether convert can read it as floats (F32, F16, BF16).
  bool is_float() const { return dtype == StDtype::kF32 || dtype == StDtype::kF16 || dtype == StDtype::kBF16; }
};

// "[4096, 128]" (PyTorch order).
std::string format_st_shape(const std::vector<int64_t>& shape);

class SafetensorsFile {
 public:
  // Maps and parses the file; throws Error(kNotFound / kIo / kInvalidFile) naming the path.
  static SafetensorsFile open(const std::string& path);
  // Parses bytes in memory (tests); the caller keeps `bytes` alive. `name` stands for the path.
  static SafetensorsFile parse(std::span<const uint8_t> bytes, std::string name);

  SafetensorsFile(SafetensorsFile&&) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return *path_; }
  // Tensors in the order of their data offsets.
  const std::vector<SafetensorsTensor>& tensors() const { return tensors_; }
  const SafetensorsTensor* find(std::string_view name) const;
  // The "__metadata__" string map (may be empty).
  const std::map<std::string, std::string>& metadata() const { return metadata_; }

 private:
  SafetensorsFile() = default;
  void parse_header(std::span<const uint8_t> bytes);

  MappedFile map_;
  std::unique_ptr<std::string> path_;  // stable address for SafetensorsTensor::file
  std::vector<SafetensorsTensor> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Reads elements [first, first + n) of a float tensor (F32, F16 or BF16) into dst as float32.
// Throws Error(kUnsupported) naming the tensor for any other dtype.
void read_as_f32(const SafetensorsTensor& t, int64_t first, int64_t n, float* dst);

}  // namespace quarrel::convert
