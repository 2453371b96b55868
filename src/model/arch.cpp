#include "model/arch.h"

#include <array>

namespace quarrel::model {
namespace {

const std::array<const ArchSpec*, 9>& all_archs() {
  static const std::array<const ArchSpec*, 9> archs = {
      &llama_arch(),  &mistral_arch(), &qwen2_arch(), &qwen3_arch(),   &qwen3moe_arch(),
      &gemma2_arch(), &gemma3_arch(),  &phi3_arch(),  &granite_arch(),
  };
  return archs;
}

}  // namespace

std::vector<WeightSpec> llama_family_weights(const HParams& hp, const BlockOptions& block) {
  const int64_t e = hp.n_embd;
  std::vector<WeightSpec> w = {
      {TensorKind::kTokenEmbd, -1, {e, hp.n_vocab}, true},
      {TensorKind::kOutputNorm, -1, {e}, true},
      {TensorKind::kOutput, -1, {e, hp.n_vocab}, false},
  };
  if (hp.has_rope_freqs) w.push_back({TensorKind::kRopeFreqs, -1, {hp.n_rot / 2}, true});
  for (int l = 0; l < hp.n_layer; ++l) {
    w.push_back({TensorKind::kAttnNorm, l, {e}, true});
    if (block.fused_qkv) {
      w.push_back({TensorKind::kAttnQkv, l, {e, hp.n_embd_q() + hp.n_embd_k_gqa() + hp.n_embd_v_gqa()}, true});
    } else {
      w.push_back({TensorKind::kAttnQ, l, {e, hp.n_embd_q()}, true});
      w.push_back({TensorKind::kAttnK, l, {e, hp.n_embd_k_gqa()}, true});
      w.push_back({TensorKind::kAttnV, l, {e, hp.n_embd_v_gqa()}, true});
    }
    w.push_back({TensorKind::kAttnOut, l, {hp.n_embd_attn_out(), e}, true});
    if (block.qkv_bias) {
      w.push_back({TensorKind::kAttnQBias, l, {hp.n_embd_q()}, true});
      w.push_back({TensorKind::kAttnKBias, l, {hp.n_embd_k_gqa()}, true});
      w.push_back({TensorKind::kAttnVBias, l, {hp.n_embd_v_gqa()}, true});
    }
    if (block.qk_norm) {
      w.push_back({TensorKind::kAttnQNorm, l, {hp.head_dim_k}, true});
      w.push_back({TensorKind::kAttnKNorm, l, {hp.head_dim_k}, true});
    }
    if (block.post_norms) w.push_back({TensorKind::kAttnPostNorm, l, {e}, true});
    w.push_back({TensorKind::kFfnNorm, l, {e}, true});
    if (hp.n_expert > 0) {
      w.push_back({TensorKind::kFfnGateInp, l, {e, hp.n_expert}, true});
      w.push_back({TensorKind::kFfnGateExps, l, {e, hp.n_ff_exp, hp.n_expert}, true});
      w.push_back({TensorKind::kFfnUpExps, l, {e, hp.n_ff_exp, hp.n_expert}, true});
      w.push_back({TensorKind::kFfnDownExps, l, {hp.n_ff_exp, e, hp.n_expert}, true});
    } else if (block.fused_gate_up) {
      w.push_back({TensorKind::kFfnUp, l, {e, 2 * hp.n_ff}, true});
      w.push_back({TensorKind::kFfnDown, l, {hp.n_ff, e}, true});
    } else {
      w.push_back({TensorKind::kFfnGate, l, {e, hp.n_ff}, true});
      w.push_back({TensorKind::kFfnUp, l, {e, hp.n_ff}, true});
      w.push_back({TensorKind::kFfnDown, l, {hp.n_ff, e}, true});
    }
    if (block.post_norms) w.push_back({TensorKind::kFfnPostNorm, l, {e}, true});
  }
  return w;
}

const ArchSpec* find_arch(std::string_view name) {
  for (const ArchSpec* a : all_archs()) {
    if (a->name == name) return a;
  }
  return nullptr;
}

std::string known_arch_names() {
  std::string s;
  for (const ArchSpec* a : all_archs()) {
    if (!s.empty()) s += ", ";
    s += a->name;
  }
  return s;
}

}  // namespace quarrel::model
