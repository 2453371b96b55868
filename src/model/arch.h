#pragma once
// An architecture is data plus one small file (arch_<name>.cpp): the hparams it reads beyond
// the common ones, the weights it expects with their shapes, and its block options.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "model/hparams.h"
#include "model/tensor_names.h"

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::model {

// The FFN's gated activation: act(gate) * up.
enum class FfnActivation {
  kSilu,      // SwiGLU (llama, qwen, phi3, granite, the MoE experts)
  kGeluTanh,  // GeGLU with the tanh approximation of GELU (gemma)
};

// What differs between the blocks of the Llama family. Every block is: RMSNorm -> Q/K/V
// projections (or one fused QKV) [+ bias] [-> per-head Q/K RMSNorm] -> RoPE -> attention (GQA,
// causal, [sliding window], [scale], [soft-capping]) -> output projection [-> RMSNorm]
// [* residual scale] -> residual; RMSNorm -> gated FFN (or mixture of experts when
// hparams.n_expert > 0) [-> RMSNorm] [* residual scale] -> residual. The scales, caps and
// window pattern are hparams (hparams.h).
struct BlockOptions {
  RopeStyle rope_style = RopeStyle::kNormal;
  bool qkv_bias = false;       // attn_q/k/v.bias added after the projections (qwen2)
  bool qk_norm = false;        // attn_q_norm/attn_k_norm: RMSNorm per head before RoPE (qwen3, gemma3)
  bool fused_qkv = false;      // one attn_qkv [n_embd, n_embd_q + 2 n_embd_k_gqa]: Q rows, K rows, V rows (phi3)
  bool fused_gate_up = false;  // ffn_up [n_embd, 2 n_ff] holds the gate rows then the up rows; no ffn_gate (phi3)
  bool post_norms = false;     // post_attention_norm / post_ffw_norm on each block's output (gemma2, gemma3)
  FfnActivation ffn_act = FfnActivation::kSilu;
};

// One weight the architecture expects, with its shape in GGUF order (ne0 first).
struct WeightSpec {
  TensorKind kind;
  int layer;                   // -1 for whole-model tensors
  std::vector<int64_t> shape;  // [ne0, ne1, ...]
  bool required;               // optional ones may be absent (output, rope_freqs)
};

struct ArchSpec {
  std::string_view name;  // general.architecture
  BlockOptions block;
  // Reads the architecture's own keys into hp, after read_common_hparams (may be null).
  void (*read_extra_hparams)(const gguf::GgufFile& file, HParams& hp);
  // Every weight and its expected shape, for these hparams.
  std::vector<WeightSpec> (*weights)(const HParams& hp, const BlockOptions& block);
};

// The weights every Llama-family block has, plus biases / Q-K norms / fused projections /
// post-norms as the block options say, the router and stacked experts instead of the dense FFN
// when hp.n_expert > 0, plus the optional output and (when allowed) rope_freqs tensors.
std::vector<WeightSpec> llama_family_weights(const HParams& hp, const BlockOptions& block);

// The architectures Quarrel runs; nullptr for any other name.
const ArchSpec* find_arch(std::string_view name);
// "llama, mistral, qwen2, qwen3, ..." (for error messages and --help).
std::string known_arch_names();

// One per arch_<name>.cpp.
const ArchSpec& llama_arch();
const ArchSpec& mistral_arch();
const ArchSpec& qwen2_arch();
const ArchSpec& qwen3_arch();
const ArchSpec& qwen3moe_arch();
const ArchSpec& gemma2_arch();
const ArchSpec& gemma3_arch();
const ArchSpec& phi3_arch();
const ArchSpec& granite_arch();

}  // namespace quarrel::model
