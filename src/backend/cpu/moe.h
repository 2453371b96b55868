#pragma once
// Mixture-of-experts FFN on the CPU: a router picks, per token, the top-k of n_expert experts
// and the token's output is the weighted sum of those experts' gated FFNs.
//
//   Routing (Mixtral, Qwen3-MoE): p = softmax(router logits) over all experts; the k largest
//   (lower expert index first on ties); their weights p_i, divided by their sum when
//   `normalize` (norm_topk_prob) -- which equals a softmax over the k chosen logits.
//   Experts: y = sum_i w_i * down_i(act(gate_i x) * up_i x).
#include <cstddef>
#include <cstdint>
#include <vector>

#include "backend/cpu/matmul.h"
#include "core/thread_pool.h"

namespace quarrel::cpu {

// Top-k routing of one token. logits: [n_expert]; ids, weights: [k], best first.
void moe_route(const float* logits, int64_t n_expert, int64_t k, bool normalize, int32_t* ids, float* weights);

// Stacked expert matrices: expert x's matrix is `first` with its data moved by x * stride bytes.
struct ExpertMatrices {
  WeightMatrix first;  // [k, n] of expert 0
  size_t stride = 0;   // bytes from one expert's matrix to the next
  WeightMatrix expert(int64_t x) const {
    WeightMatrix m = first;
    m.data = static_cast<const uint8_t*>(first.data) + static_cast<size_t>(x) * stride;
    return m;
  }
};

struct MoeWeights {
  WeightMatrix router;             // [n_embd, n_expert]
  ExpertMatrices gate, up;         // [n_embd, n_ff_exp] each
  ExpertMatrices down;             // [n_ff_exp, n_embd]
  int64_t n_expert = 0, n_used = 0;
  bool normalize = true;
  bool gelu = false;               // GeGLU experts instead of SwiGLU
};

// Buffers reused between calls.
struct MoeScratch {
  std::vector<float> logits;                 // [n_expert, n]
  std::vector<int32_t> ids;                  // [n_used, n]
  std::vector<float> weights;                // [n_used, n]
  std::vector<float> xe, gate, up, ye;       // one expert's gathered tokens
  std::vector<int32_t> tokens;               // one expert's tokens
  std::vector<float> token_weights;          // and their routing weights
};

// y = MoE(x) for n tokens; x, y: [n_embd, n] packed (y is overwritten). Each expert runs once
// over all the tokens routed to it (gathered into one batch).
void moe_ffn(const MoeWeights& w, const float* x, float* y, int64_t n, MoeScratch& s, ThreadPool& pool);

}  // namespace quarrel::cpu
