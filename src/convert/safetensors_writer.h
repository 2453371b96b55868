#pragma once
// A small safetensors writer: tensors (F32, F16 or BF16, row-major, PyTorch shape order) whose
// bytes are produced when written, so a large checkpoint streams through without being held
// in memory. Used by the tests and the reference harness to write Hugging Face checkpoints;
// the output is what the `safetensors` library writes (header JSON padded with spaces to a
// multiple of 8 bytes, tensors back to back in the order added).
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "convert/safetensors.h"

namespace quarrel::convert {

class SafetensorsWriter {
 public:
  // fill(first, n, dst) writes elements [first, first + n) of the tensor as float32; they are
  // stored in `dtype` (F32, F16 or BF16, rounded to nearest even).
  using Fill = std::function<void(int64_t first, int64_t n, float* dst)>;

  void add(std::string name, StDtype dtype, std::vector<int64_t> shape, Fill fill);
  void set_metadata(std::string key, std::string value) { metadata_[std::move(key)] = std::move(value); }

  // Writes the file (a temp file renamed into place). Throws Error(kIo) naming the path.
  void write(const std::string& path) const;

 private:
  struct Pending {
    std::string name;
    StDtype dtype;
    std::vector<int64_t> shape;
    Fill fill;
  };
  void write_body(const std::string& tmp, const std::string& header) const;

  std::vector<Pending> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace quarrel::convert
