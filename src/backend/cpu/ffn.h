#pragma once
// The feed-forward half of a block, as the architecture's options say (model/arch.h): a gated
// FFN with separate or fused (phi3) gate/up projections and SiLU or GELU-tanh (gemma), or a
// mixture of experts (moe.h) when hparams.n_expert > 0.
#include <cstdint>
#include <vector>

#include "backend/cpu/moe.h"
#include "core/thread_pool.h"
#include "model/model.h"

namespace quarrel::cpu {

struct FfnScratch {
  std::vector<float> gate, up;  // [n_ff, n] (fused: gate_up [2 n_ff, n] in gate)
  MoeScratch moe;
};

// y = FFN(x); x, y: [n_embd, n] packed, y overwritten.
void ffn_forward(const model::LayerWeights& layer, const model::HParams& hp, const model::BlockOptions& block,
                 const float* x, float* y, int64_t n, FfnScratch& s, ThreadPool& pool);

// The MoE weights of a layer as moe_ffn takes them.
MoeWeights moe_weights(const model::LayerWeights& layer, const model::HParams& hp, const model::BlockOptions& block);

}  // namespace quarrel::cpu
