#pragma once
// Hugging Face checkpoint -> GGUF (what `quarrel convert` does): config.json to the standard
// <arch>.* keys, safetensors tensors to the standard GGUF names (re-ordered / stacked / offset
// as each architecture needs, see tensor_map.cpp), tokenizer.json + tokenizer_config.json to
// tokenizer.ggml.* and the chat template, quantized on the way to a file type (the mixes of
// quant/mix.h, the same per-tensor choices as `quarrel quantize`), written atomically.
//
//   convert::ConvertOptions opt;  opt.type = "q8_0";
//   auto r = convert::convert_hf("path/to/hf", "model.gguf", opt);
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "convert/convert_plan.h"
#include "core/ggml_type.h"
#include "gguf/gguf_writer.h"

namespace quarrel::convert {

struct ConvertProgress {
  size_t tensor_index = 0;  // 0-based, in write order
  size_t n_tensors = 0;
  const std::string* tensor = nullptr;  // its GGUF name
  GgmlType type = GgmlType::F32;        // its output type
  uint64_t elements_done = 0;           // over the whole model
  uint64_t elements_total = 0;
};

struct ConvertOptions {
  // Output file type: "f32", "f16", "bf16", a quantization mix ("q8_0", "q4_k_m", ...; see
  // quant::quant_mixes()), or "auto" (bf16 for a BF16 checkpoint, else f16), as llama.cpp.
  std::string type = "auto";
  std::string name;   // general.name; "": config.json's _name_or_path, else the directory's name
  int n_threads = 0;  // 0: the physical cores
  std::function<void(const ConvertProgress&)> progress;  // called on the calling thread
};

struct ConvertedTensor {
  std::string name;
  std::vector<uint64_t> shape;
  GgmlType type;
};

struct ConvertResult {
  std::string hf_arch;  // "LlamaForCausalLM"
  std::string arch;     // "llama"
  std::string file_type;  // "Q8_0", "F16", "F32", ...
  std::vector<ConvertedTensor> tensors;
  uint64_t n_parameters = 0;
  uint64_t bytes_out = 0;  // tensor data
  size_t n_fallback = 0;   // tensors whose row length did not fit the mix's type
};

// Converts the checkpoint in hf_dir to out_path. Throws quarrel::Error: kNotFound (a missing
// directory / config.json / weights / tokenizer.json), kInvalidFile (bad JSON, a bad
// safetensors header, a tensor of the wrong shape), kUnsupported (an architecture, dtype or
// option convert does not handle), kInvalidArgument (a bad type, out_path inside a missing
// directory), kIo (cannot write). A failed conversion leaves no out_path behind.
ConvertResult convert_hf(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options = {});

// "f32, f16, bf16, q8_0, q4_0, q4_k_m, ..." for --help and errors.
std::string convert_type_names();

}  // namespace quarrel::convert
