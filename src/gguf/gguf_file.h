#pragma once
// GGUF reader. Parses the header, the metadata and the tensor infos, checking every count,
// size and offset against the bytes that are there; the tensor data stays in the mmap and is
// never copied. Every problem is an Error naming the file and the problem, never a crash.
// Format: https://github.com/ggml-org/ggml/blob/master/docs/gguf.md (versions 2 and 3).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/ggml_type.h"
#include "core/mapped_file.h"
#include "gguf/gguf_value.h"

namespace quarrel::gguf {

inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxDims = 4;

struct TensorInfo {
  std::string name;
  std::vector<uint64_t> shape;  // ne0 first (innermost); 1..4 dims, each nonzero
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;          // from the start of the data section

  uint64_t n_elements() const;  // product of shape
  uint64_t n_bytes() const;     // bytes of data for this shape and type
};

// "[64, 512]" (GGUF order, ne0 first).
std::string format_shape(const std::vector<uint64_t>& shape);
// Why a tensor of this type and shape cannot exist ("has 5 dimensions (at most 4)", "dimension
// 1 is zero", "first dimension 300 is not a multiple of the Q4_K block size 256", ...), or ""
// when it can. On success *n_bytes (if given) is its size in bytes.
std::string check_tensor_shape(GgmlType type, const std::vector<uint64_t>& shape, uint64_t* n_bytes = nullptr);

class GgufFile {
 public:
  // Maps and parses the file; throws quarrel::Error naming the path and the problem.
  static GgufFile open(const std::string& path);
  // Parses bytes in memory (fuzzer, tests); the caller keeps `bytes` alive as long as the
  // GgufFile. `name` stands for the path in error messages.
  static GgufFile parse(std::span<const uint8_t> bytes, std::string name);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return bytes_.size(); }
  // Start of the data section in the file: the end of the tensor infos rounded up to the
  // alignment (past the end of a file that has no tensors and no padding).
  uint64_t data_offset() const { return data_offset_; }
  std::span<const uint8_t> bytes() const { return bytes_; }  // the whole file

  // Metadata in file order.
  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }

  // Typed access. A missing key: Error(kNotFound, "<path>: missing required key 'k'");
  // a wrong type or a value out of range: Error(kInvalidFile, "<path>: key 'k': ...").
  std::string get_string(std::string_view key) const;
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const Value& get(std::string_view key) const;  // any type; missing -> kNotFound
  // The same with a default for a missing key (a present key of the wrong type still throws).
  std::string get_string_or(std::string_view key, std::string def) const;
  uint64_t get_uint_or(std::string_view key, uint64_t def) const;
  int64_t get_int_or(std::string_view key, int64_t def) const;
  double get_float_or(std::string_view key, double def) const;
  bool get_bool_or(std::string_view key, bool def) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<float> get_float_array(std::string_view key) const;

  std::string architecture() const;                     // general.architecture (required)
  std::string arch_key(std::string_view suffix) const;  // "<arch>.<suffix>"

  // Tensors in file order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // Throws Error(kNotFound, "<path>: tensor 'name' not found").
  const TensorInfo& tensor(std::string_view name) const;
  // The tensor's bytes, in the mmap.
  std::span<const uint8_t> tensor_data(const TensorInfo& t) const;

 private:
  GgufFile() = default;
  friend class Parser;

  MappedFile map_;  // empty for parse()
  std::span<const uint8_t> bytes_;
  std::string path_;
  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<std::pair<std::string, Value>> metadata_;
  std::unordered_map<std::string, size_t> key_index_;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace quarrel::gguf
