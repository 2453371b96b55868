#pragma once
// GGUF writer (version 3, little-endian). Tensors are laid out in the order added, each at an
// offset aligned to the file's alignment, as llama.cpp writes them, so reading a file and
// writing it back gives the same bytes. Runs of zero bytes in tensor data are skipped with
// lseek, so all-zero tensors make a sparse file.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/ggml_type.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_value.h"

namespace quarrel::gguf {

class GgufWriter {
 public:
  using Fill = std::function<void(uint8_t* dst, uint64_t n_bytes)>;

  // Replaces an existing key in place, else appends. Setting general.alignment also sets the
  // alignment (it must be an integer power of two).
  void set(std::string key, Value v);
  void remove(std::string_view key);
  const Value* find(std::string_view key) const;
  // Copies every key (in file order) and the alignment; keeps keys already set that the file
  // does not have.
  void copy_metadata_from(const GgufFile& f);
  // Writes general.alignment (u32) when not 32; must be a nonzero power of two.
  void set_alignment(uint64_t alignment);
  uint64_t alignment() const { return alignment_; }

  // Checks name (unique, valid UTF-8), shape (1..4 nonzero dims, ne0 a multiple of the block
  // size) and that data.size() matches; throws Error(kInvalidArgument) otherwise.
  void add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape, std::vector<uint8_t> data);
  // Data produced when written (fill gets a zeroed buffer of exactly n_bytes), so huge models
  // stream through without every tensor in memory at once.
  void add_tensor_lazy(std::string name, GgmlType type, std::vector<uint64_t> shape, Fill fill);

  const std::vector<std::pair<std::string, Value>>& metadata() const { return metadata_; }
  size_t tensor_count() const { return tensors_.size(); }

  // The header, metadata and tensor infos exactly as write() puts them (padded to alignment).
  std::vector<uint8_t> header_bytes() const;
  // The whole file in memory (tests, small files).
  std::vector<uint8_t> to_bytes() const;
  // Atomic: a temp file in the same directory, fsync, rename; on failure no `path` is left
  // (an existing one is untouched). Throws Error(kIo) naming the path.
  void write(const std::string& path) const;

 private:
  struct PendingTensor {
    TensorInfo info;
    std::vector<uint8_t> data;
    Fill fill;  // when set, data is empty
  };
  void add(std::string name, GgmlType type, std::vector<uint64_t> shape, std::vector<uint8_t> data, Fill fill);
  std::vector<uint64_t> offsets() const;

  std::vector<std::pair<std::string, Value>> metadata_;
  std::vector<PendingTensor> tensors_;
  uint64_t alignment_ = kDefaultAlignment;
};

}  // namespace quarrel::gguf
