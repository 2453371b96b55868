#pragma once
// One live request inside the engine (engine thread only): its tokens, how far its KV is
// computed, its sampler, stop checker and detokenizer, its clocks.
//
// The token list is the prompt followed by every sampled token. Each engine step feeds a
// sequence the tokens [n_computed, n_tokens) it has not computed yet (at most a chunk of them):
// a whole prompt or a chunk of it when it was just admitted, the one token sampled last step when
// decoding, everything again after a preemption (recompute). When a step reaches the last token
// its logits are sampled and the new token is appended.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "runtime/request.h"
#include "runtime/request_handle.h"
#include "sampling/sampler.h"
#include "sampling/stop.h"
#include "tokenizer/detokenizer.h"

namespace quarrel::runtime {

using Clock = std::chrono::steady_clock;

struct Sequence {
  RequestId id = 0;
  std::shared_ptr<RequestHandle> handle;
  Priority priority = Priority::kInteractive;

  std::vector<TokenId> tokens;   // prompt + sampled tokens
  int32_t n_prompt = 0;
  int32_t n_computed = 0;        // tokens whose K/V is in the cache
  int32_t n_cached_prompt = 0;   // prompt tokens the prefix cache supplied at first admission
  int32_t n_ctx = 0;             // the most tokens this sequence may hold
  bool admitted_once = false;
  int32_t n_preempted = 0;

  std::unique_ptr<sampling::Sampler> sampler;
  std::unique_ptr<sampling::StopChecker> stop;
  std::optional<tokenizer::IncrementalDetokenizer> detok;
  int32_t n_generated = 0;
  bool ended = false;  // the final event was sent

  Clock::time_point t_submit{}, t_admit{}, t_first_token{}, t_last_token{};
  Clock::time_point deadline = Clock::time_point::max();

  int32_t n_tokens() const { return static_cast<int32_t>(tokens.size()); }
  int32_t n_pending() const { return n_tokens() - n_computed; }
};

}  // namespace quarrel::runtime
