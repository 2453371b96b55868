#pragma once
// Greedy generation of one sequence on a backend, for tests, benchmarks and simple tools. The
// sequence takes pool blocks 0, 1, 2, ... in order (the backend's pool must hold prompt + steps
// tokens); the engine's scheduler, not this, is how real requests run.
#include <span>
#include <vector>

#include "backend/backend.h"

namespace quarrel::backend {

struct GreedyResult {
  std::vector<TokenId> tokens;              // the generated ids (not the prompt)
  std::vector<std::vector<float>> logits;   // per step, the logits the pick was made from (when kept)
  double prompt_seconds = 0;                // the prompt's forward pass
  double generate_seconds = 0;              // the decode steps after the first pick
};

struct GreedyOptions {
  bool keep_logits = false;
  int32_t prompt_chunk = 0;  // > 0: feed the prompt in batches of this many tokens
};

// Runs the prompt, then picks the argmax n_steps times (each pick after the first is fed back
// as one decode step). Error(kInvalidArgument) when the prompt is empty or the pool is too
// small.
GreedyResult generate_greedy(Backend& backend, std::span<const TokenId> prompt, int n_steps,
                             const GreedyOptions& options = {});

}  // namespace quarrel::backend
