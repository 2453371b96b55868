#include "backend/cpu/ffn.h"

#include <algorithm>

#include "backend/cpu/matmul.h"
#include "backend/cpu/ops.h"
#include "backend/cpu/weight_view.h"

namespace quarrel::cpu {
namespace {

ExpertMatrices stacked(const model::Weight& w) {
  // [k, n, n_expert]: expert x is rows [x * n, (x + 1) * n).
  return {.first = weight_matrix(w), .stride = static_cast<size_t>(w.rows()) * w.row_bytes()};
}

void glu(bool gelu, const float* gate, const float* up, float* y, int64_t n) {
  if (gelu) {
    geglu(gate, up, y, n);
  } else {
    swiglu(gate, up, y, n);
  }
}

}  // namespace

MoeWeights moe_weights(const model::LayerWeights& L, const model::HParams& hp, const model::BlockOptions& block) {
  return {.router = weight_matrix(L.ffn_gate_inp),
          .gate = stacked(L.ffn_gate_exps),
          .up = stacked(L.ffn_up_exps),
          .down = stacked(L.ffn_down_exps),
          .n_expert = hp.n_expert,
          .n_used = hp.n_expert_used,
          .normalize = hp.expert_weights_norm,
          .gelu = block.ffn_act == model::FfnActivation::kGeluTanh};
}

void ffn_forward(const model::LayerWeights& L, const model::HParams& hp, const model::BlockOptions& block,
                 const float* x, float* y, int64_t n, FfnScratch& s, ThreadPool& pool) {
  if (hp.n_expert > 0) {
    moe_ffn(moe_weights(L, hp, block), x, y, n, s.moe, pool);
    return;
  }
  const bool gelu = block.ffn_act == model::FfnActivation::kGeluTanh;
  const int64_t n_ff = hp.n_ff;
  const auto nz = static_cast<size_t>(n);
  s.gate.resize(static_cast<size_t>(n_ff) * nz * (block.fused_gate_up ? 2 : 1));
  if (block.fused_gate_up) {
    // ffn_up [n_embd, 2 n_ff]: each token's column is its n_ff gate values, then its n_ff up values.
    matmul(weight_matrix(L.ffn_up), x, s.gate.data(), n, pool);
    for (int64_t t = 0; t < n; ++t) {
      const float* gu = s.gate.data() + t * 2 * n_ff;
      // Column t of the packed [n_ff, n] result lies at or before column 2t of the input: safe in place.
      glu(gelu, gu, gu + n_ff, s.gate.data() + t * n_ff, n_ff);
    }
  } else {
    s.up.resize(static_cast<size_t>(n_ff) * nz);
    const MatmulOut gate_up[2] = {{weight_matrix(L.ffn_gate), s.gate.data(), 0}, {weight_matrix(L.ffn_up), s.up.data(), 0}};
    matmul_multi(gate_up, x, hp.n_embd, n, pool);
    glu(gelu, s.gate.data(), s.up.data(), s.gate.data(), n_ff * n);
  }
  matmul(weight_matrix(L.ffn_down), s.gate.data(), y, n, pool);
}

}  // namespace quarrel::cpu
