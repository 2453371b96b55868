#pragma once
// What a conversion will write: the GGUF architecture, its metadata, and every output tensor
// with where its values come from. An output tensor is read in "units" (a row of ne0 values,
// or single values for a permuted bias), each taken from a unit of one source tensor; a map
// expresses the re-orderings convert needs (Llama's Q/K row permutation, experts stacked into
// one 3-D tensor, a fused gate/up tensor split in two), `add` the Gemma norm offset. Nothing is
// read until the writer asks for the bytes.
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "convert/safetensors.h"
#include "gguf/gguf_value.h"
#include "quant/mix.h"

namespace quarrel::convert {

struct SourceUnit {
  size_t source;  // index into OutputTensor::sources
  int64_t unit;   // unit index within that source
};

struct OutputTensor {
  std::string name;                                // GGUF name ("blk.0.attn_q.weight")
  std::vector<uint64_t> shape;                     // GGUF order, ne0 first
  std::vector<const SafetensorsTensor*> sources;   // read as float32
  int64_t unit = 0;                                // elements per unit; divides ne0 or is a multiple of it
  std::function<SourceUnit(int64_t out_unit)> map; // empty: the sources' units back to back
  float add = 0.0f;                                // added to every value
  std::vector<float> values;                       // a computed tensor (no sources): its values

  uint64_t n_elements() const;
  // Elements [first, first + n) as float32; first and n are multiples of `unit`.
  void read(int64_t first, int64_t n, float* dst) const;
};

struct ConvertPlan {
  std::string hf_arch;    // "LlamaForCausalLM"
  std::string arch;       // GGUF general.architecture ("llama")
  std::vector<std::pair<std::string, gguf::Value>> metadata;  // the <arch>.* keys, in order
  std::vector<OutputTensor> tensors;
  quant::ModelShape shape;  // what the quantization mix needs
  int64_t n_vocab = 0;      // rows of token_embd
};

}  // namespace quarrel::convert
