#pragma once
// Quantizing a whole GGUF model: GgufFile in, GgufWriter out (what `quarrel quantize` does).
// The tensor types come from the mix (quant/mix.h); rows are split across a thread pool; the
// output is written atomically (a temp file renamed into place, so a crash never leaves a
// half-written OUT) with general.file_type and general.quantization_version = 2 set. The
// input is never overwritten (same path or same inode is refused).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "quant/mix.h"

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::quant {

inline constexpr uint32_t kQuantizationVersion = 2;

struct TensorPlan {
  std::string name;
  std::vector<uint64_t> shape;  // ne0 first
  GgmlType from;                // type in the input
  GgmlType to;                  // type in the output (== from: copied as it is)
  bool fallback = false;        // the mix's type did not fit the row length
  uint64_t in_bytes = 0;
  uint64_t out_bytes = 0;
  uint64_t n_elements = 0;
};

// The output tensors, in the order they are written (llama.cpp's: non-block tensors, then
// block by block, by name). Throws Error(kUnsupported) naming the tensor when a tensor that
// must change type cannot be converted (an input type without a dequantizer, or an already
// quantized tensor without allow_requantize).
std::vector<TensorPlan> plan_quantization(const gguf::GgufFile& in, const QuantMix& mix, bool allow_requantize = false);

struct QuantizeProgress {
  size_t tensor_index = 0;  // 0-based, in plan order
  size_t n_tensors = 0;
  const TensorPlan* tensor = nullptr;
  uint64_t elements_done = 0;   // over the whole model, copies included
  uint64_t elements_total = 0;
};

struct QuantizeOptions {
  int n_threads = 0;              // 0: the physical cores
  bool allow_requantize = false;  // quantized input tensors may be dequantized and requantized
  // Called on the calling thread, several times per large tensor and once at the end.
  std::function<void(const QuantizeProgress&)> progress;
};

struct QuantizeResult {
  std::vector<TensorPlan> plan;
  uint64_t bytes_in = 0;   // tensor data
  uint64_t bytes_out = 0;
  size_t n_converted = 0;  // tensors whose type changed
  size_t n_fallback = 0;
};

// Throws quarrel::Error: kNotFound / kInvalidFile for a bad input, kInvalidArgument when OUT
// is the input, kUnsupported as plan_quantization, kIo when OUT cannot be written.
QuantizeResult quantize_model(const std::string& in_path, const std::string& out_path, const QuantMix& mix,
                              const QuantizeOptions& options = {});

// Converts n_rows rows of n_per_row elements from one type to another (dequantize to float32,
// quantize), rows split across the pool's threads. src/dst hold whole rows.
void convert_rows(GgmlType from, const void* src, GgmlType to, void* dst, int64_t n_rows, int64_t n_per_row,
                  int n_threads);

}  // namespace quarrel::quant
