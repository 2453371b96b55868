#pragma once
// The one tensor-name table: every weight the model code knows, as an enum, and its GGUF name
// as llama.cpp writes it ("blk.%d.attn_q.weight"). Architecture files list their weights by
// these enums; nothing else spells a tensor name.
#include <cstdint>
#include <string>
#include <string_view>

namespace quarrel::model {

enum class TensorKind : uint8_t {
  // Whole-model tensors.
  kTokenEmbd,   // token_embd.weight     [n_embd, n_vocab]
  kOutputNorm,  // output_norm.weight    [n_embd]
  kOutput,      // output.weight         [n_embd, n_vocab]  (absent: tied to token_embd)
  kRopeFreqs,   // rope_freqs.weight     [n_rot / 2]        (llama3 frequency factors)
  // Per-layer tensors ("blk.<layer>.").
  kAttnNorm,    // attn_norm.weight      [n_embd]
  kAttnQ,       // attn_q.weight         [n_embd, n_head * head_dim_k]
  kAttnK,       // attn_k.weight         [n_embd, n_head_kv * head_dim_k]
  kAttnV,       // attn_v.weight         [n_embd, n_head_kv * head_dim_v]
  kAttnQkv,     // attn_qkv.weight       [n_embd, n_embd_q + 2 * n_embd_k_gqa]  (phi3: Q, K, V fused)
  kAttnOut,     // attn_output.weight    [n_head * head_dim_v, n_embd]
  kAttnQBias,   // attn_q.bias           [n_head * head_dim_k]
  kAttnKBias,   // attn_k.bias           [n_head_kv * head_dim_k]
  kAttnVBias,   // attn_v.bias           [n_head_kv * head_dim_v]
  kAttnQNorm,   // attn_q_norm.weight    [head_dim_k]
  kAttnKNorm,   // attn_k_norm.weight    [head_dim_k]
  kAttnPostNorm,  // post_attention_norm.weight [n_embd]   (gemma: RMSNorm of the attention output)
  kFfnNorm,     // ffn_norm.weight       [n_embd]
  kFfnGate,     // ffn_gate.weight       [n_embd, n_ff]
  kFfnUp,       // ffn_up.weight         [n_embd, n_ff]  (phi3: [n_embd, 2 * n_ff], gate rows then up rows)
  kFfnDown,     // ffn_down.weight       [n_ff, n_embd]
  kFfnPostNorm,   // post_ffw_norm.weight  [n_embd]          (gemma: RMSNorm of the FFN output)
  kFfnGateInp,    // ffn_gate_inp.weight   [n_embd, n_expert]  (MoE router)
  kFfnGateExps,   // ffn_gate_exps.weight  [n_embd, n_ff_exp, n_expert]
  kFfnUpExps,     // ffn_up_exps.weight    [n_embd, n_ff_exp, n_expert]
  kFfnDownExps,   // ffn_down_exps.weight  [n_ff_exp, n_embd, n_expert]
  kCount,
};

// Whether the tensor exists once per layer ("blk.N.") rather than once per model.
bool is_per_layer(TensorKind kind);
// The GGUF name: tensor_name(kAttnQ, 3) == "blk.3.attn_q.weight"; layer is ignored for
// whole-model tensors.
std::string tensor_name(TensorKind kind, int layer = -1);

}  // namespace quarrel::model
