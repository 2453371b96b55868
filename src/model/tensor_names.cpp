#include "model/tensor_names.h"

#include <fmt/format.h>

#include <array>

#include "core/error.h"

namespace quarrel::model {
namespace {

struct NameEntry {
  TensorKind kind;
  bool per_layer;
  std::string_view name;  // after "blk.N." for per-layer tensors
};

constexpr std::array<NameEntry, static_cast<size_t>(TensorKind::kCount)> kNames = {{
    {TensorKind::kTokenEmbd, false, "token_embd.weight"},
    {TensorKind::kOutputNorm, false, "output_norm.weight"},
    {TensorKind::kOutput, false, "output.weight"},
    {TensorKind::kRopeFreqs, false, "rope_freqs.weight"},
    {TensorKind::kAttnNorm, true, "attn_norm.weight"},
    {TensorKind::kAttnQ, true, "attn_q.weight"},
    {TensorKind::kAttnK, true, "attn_k.weight"},
    {TensorKind::kAttnV, true, "attn_v.weight"},
    {TensorKind::kAttnQkv, true, "attn_qkv.weight"},
    {TensorKind::kAttnOut, true, "attn_output.weight"},
    {TensorKind::kAttnQBias, true, "attn_q.bias"},
    {TensorKind::kAttnKBias, true, "attn_k.bias"},
    {TensorKind::kAttnVBias, true, "attn_v.bias"},
    {TensorKind::kAttnQNorm, true, "attn_q_norm.weight"},
    {TensorKind::kAttnKNorm, true, "attn_k_norm.weight"},
    {TensorKind::kAttnPostNorm, true, "post_attention_norm.weight"},
    {TensorKind::kFfnNorm, true, "ffn_norm.weight"},
    {TensorKind::kFfnGate, true, "ffn_gate.weight"},
    {TensorKind::kFfnUp, true, "ffn_up.weight"},
    {TensorKind::kFfnDown, true, "ffn_down.weight"},
    {TensorKind::kFfnPostNorm, true, "post_ffw_norm.weight"},
    {TensorKind::kFfnGateInp, true, "ffn_gate_inp.weight"},
    {TensorKind::kFfnGateExps, true, "ffn_gate_exps.weight"},
    {TensorKind::kFfnUpExps, true, "ffn_up_exps.weight"},
    {TensorKind::kFfnDownExps, true, "ffn_down_exps.weight"},
}};

constexpr bool table_in_enum_order() {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (static_cast<size_t>(kNames[i].kind) != i) return false;
  }
  return true;
}
static_assert(table_in_enum_order(), "kNames must list TensorKind in enum order");

const NameEntry& entry(TensorKind kind) {
  const auto i = static_cast<size_t>(kind);
  QUARREL_ASSERT(i < kNames.size());
  return kNames[i];
}

}  // namespace

bool is_per_layer(TensorKind kind) { return entry(kind).per_layer; }

std::string tensor_name(TensorKind kind, int layer) {
  const NameEntry& e = entry(kind);
  if (!e.per_layer) return std::string(e.name);
  QUARREL_ASSERT(layer >= 0);
  return fmt::format("blk.{}.{}", layer, e.name);
}

}  // namespace quarrel::model
