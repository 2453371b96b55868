#pragma once
// Tiny Hugging Face checkpoints of each architecture convert knows, written by the tests
// (config.json as transformers writes it, model.safetensors from the weight generator, a
// 258-token byte-level BPE tokenizer.json padded to the vocabulary), for the convert unit and
// end-to-end tests. Sizes: hidden 64, 4 heads (2 KV), head_dim 16, 2 layers, FFN 96, vocab 300.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "convert/safetensors.h"
#include "reference/weight_gen.h"

namespace quarrel::test {

struct TinyOptions {
  convert::StDtype dtype = convert::StDtype::kF32;  // of every tensor
  bool fused_experts = false;   // MoE: transformers 5's experts.gate_up_proj / experts.down_proj
  int shards = 1;               // > 1: model-0000N-of-0000M.safetensors + index
  bool llama3_rope = false;     // llama: rope_type llama3 (rope_freqs.weight)
  bool transformers4_rope = false;  // rope_theta + rope_scaling at the top level instead of rope_parameters
};

struct TinyCheckpoint {
  nlohmann::json config;
  std::vector<refweights::TensorSpec> tensors;
  int64_t n_vocab = 300, n_embd = 64, n_head = 4, n_head_kv = 2, head_dim = 16, n_layer = 2, n_ff = 96;
  int64_t n_expert = 0, n_expert_used = 0, n_ff_expert = 0;

  const refweights::TensorSpec& spec(const std::string& name) const;
  // The weight value at `index` of tensor `name`, as it is stored (rounded to the dtype).
  float weight(const std::string& name, int64_t index) const;
  convert::StDtype dtype = convert::StDtype::kF32;
};

// family: llama, mistral, mixtral, granite, qwen2, qwen3, qwen3moe, gemma2, gemma3, phi3.
TinyCheckpoint make_tiny(const std::string& family, const TinyOptions& opt = {});
void write_tiny(const TinyCheckpoint& c, const std::filesystem::path& dir, const TinyOptions& opt = {});

// The tokenizer files alone (byte-level BPE, 256 byte tokens + <s> </s>).
void write_tiny_tokenizer(const std::filesystem::path& dir);

std::vector<std::string> tiny_families();

}  // namespace quarrel::test
