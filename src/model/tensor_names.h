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
  kAttnOut,     // attn_output.weight    [n_head * head_dim_v, n_embd]
  kAttnQBias,   // attn_q.bias           [n_head * head_dim_k]
  kAttnKBias,   // attn_k.bias           [n_head_kv * head_dim_k]
  kAttnVBias,   // attn_v.bias           [n_head_kv * head_dim_v]
  kAttnQNorm,   // attn_q_norm.weight    [head_dim_k]
  kAttnKNorm,   // attn_k_norm.weight    [head_dim_k]
  kFfnNorm,     // ffn_norm.weight       [n_embd]
  kFfnGate,     // ffn_gate.weight       [n_embd, n_ff]
  kFfnUp,       // ffn_up.weight         [n_embd, n_ff]
  kFfnDown,     // ffn_down.weight       [n_ff, n_embd]
  kCount,
};

// Whether the tensor exists once per layer ("blk.N.") rather than once per model.
bool is_per_layer(TensorKind kind);
// The GGUF name: tensor_name(kAttnQ, 3) == "blk.3.attn_q.weight"; layer is ignored for
// whole-model tensors.
std::string tensor_name(TensorKind kind, int layer = -1);

}  // namespace quarrel::model
