#pragma once
// The architectures convert knows: the Hugging Face class (config.json "architectures"), the
// GGUF architecture it becomes, and the options that decide how its tensors and keys are
// written, as llama.cpp's convert_hf_to_gguf.py writes them.
#include <cstdint>
#include <string>
#include <string_view>

#include "convert/checkpoint.h"
#include "convert/convert_plan.h"

namespace quarrel::convert {

enum class Family {
  kLlama,   // llama, mistral, mixtral, granite: Q/K rows permuted for ggml's adjacent-pair RoPE
  kQwen,    // qwen2 (Q/K/V bias), qwen3 (Q/K norm), qwen3moe: NeoX RoPE, no permutation
  kGemma2,  // norms stored as 1 + w, post-attention / post-FFN norms, soft-capping
  kGemma3,  // the same plus Q/K norms, local/global RoPE, 5:1 sliding/global layers
  kPhi3,    // fused qkv_proj and gate_up_proj kept fused (attn_qkv, ffn_up)
};

struct ArchRule {
  std::string_view hf_arch;    // "MixtralForCausalLM"
  std::string_view gguf_arch;  // "llama"
  Family family;
  bool moe;                    // mixture of experts (stacked expert tensors)
};

// nullptr when convert does not know the class.
const ArchRule* find_arch_rule(std::string_view hf_arch);
// "LlamaForCausalLM, MistralForCausalLM, ..." for error messages and --help.
std::string supported_hf_architectures();

// The sizes read from config.json that the keys and the tensor checks need.
struct ModelDims {
  int64_t n_layer = 0, n_embd = 0, n_ff = 0, n_head = 0, n_head_kv = 0;
  int64_t head_dim = 0;       // per head, Q/K/V
  bool head_dim_explicit = false;
  int64_t n_vocab = 0;        // rows of the embedding table
  int64_t n_expert = 0, n_expert_used = 0, n_ff_expert = 0;
  bool tied_embeddings = false;
};

ModelDims read_dims(const ArchRule& rule, const HfCheckpoint& ckpt);

// The <arch>.* keys (and computed tensors such as rope_freqs) for this architecture.
void plan_metadata(const ArchRule& rule, const HfCheckpoint& ckpt, const ModelDims& dims, ConvertPlan& plan);
// Every checkpoint tensor mapped to its GGUF name (and re-ordered, stacked, offset as the
// architecture needs); Error naming the first tensor it cannot place, or a missing one.
void plan_tensors(const ArchRule& rule, const HfCheckpoint& ckpt, const ModelDims& dims, ConvertPlan& plan);

// The whole plan: rule lookup (Error(kUnsupported) naming the class and the supported ones),
// dims, metadata, tensors.
ConvertPlan plan_conversion(const HfCheckpoint& ckpt);

}  // namespace quarrel::convert
