#pragma once
// What a caller (the CLI, the HTTP server) hands the engine, and what comes back.
//
// A Request is a prompt (token ids, or text the engine tokenizes), sampling settings and stop
// conditions. The engine answers with a stream of TokenEvents: one per generated token (its id,
// the text that is safe to show now, its log-probabilities when asked), then one final event
// with the reason generation ended, the usage counts and the timings. Text never contains a
// stop string or part of an unfinished UTF-8 character; everything the events carry, joined,
// is the generated text.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "sampling/sampler.h"
#include "sampling/sampling_params.h"
#include "sampling/stop.h"

namespace quarrel::runtime {

using TokenId = int32_t;
using RequestId = uint64_t;
using sampling::StopReason;

// Interactive requests are admitted before batch ones; within a priority, first come first
// served.
enum class Priority { kInteractive = 0, kBatch = 1 };

struct Request {
  // The prompt: token ids, or (when empty) prompt_text, tokenized by the engine with
  // add_special (BOS as the model says) and parse_special (special-token text becomes the
  // token: what a rendered chat template needs).
  std::vector<TokenId> prompt;
  std::string prompt_text;
  bool add_special = true;
  bool parse_special = true;

  sampling::SamplingParams sampling;
  int32_t max_tokens = -1;         // < 0: until a stop or the context is full; 0: none
  std::vector<std::string> stop;   // stop strings: generation ends there, they are never emitted
  std::vector<TokenId> stop_tokens;  // more stop tokens besides the model's end-of-generation ones
  bool ignore_eos = false;         // do not stop at the model's end-of-generation tokens
  Priority priority = Priority::kInteractive;
  // Ends the request (StopReason::kTimeout) this long after submit; 0: the engine's default.
  std::chrono::milliseconds timeout{0};
};

struct Usage {
  int32_t prompt_tokens = 0;         // tokens of the prompt
  int32_t cached_prompt_tokens = 0;  // of those, reused from the prefix cache (not computed)
  int32_t generated_tokens = 0;      // tokens sampled (a stop token included)
};

struct Timings {
  double queue_ms = 0;     // submit -> first admitted to the running set
  double prompt_ms = 0;    // admitted -> first token sampled (prompt processing)
  double generate_ms = 0;  // first token -> last token
  double total_ms = 0;     // submit -> final event

  // Prompt tokens computed per second, and tokens generated per second after the first one
  // (as llama.cpp counts them); 0 when there is nothing to measure.
  double prompt_tokens_per_second(const Usage& u) const {
    const int32_t n = u.prompt_tokens - u.cached_prompt_tokens;
    return prompt_ms > 0 && n > 0 ? 1000.0 * n / prompt_ms : 0;
  }
  double generate_tokens_per_second(const Usage& u) const {
    return generate_ms > 0 && u.generated_tokens > 1 ? 1000.0 * (u.generated_tokens - 1) / generate_ms : 0;
  }
};

struct TokenEvent {
  RequestId request = 0;
  bool final = false;

  // A generated token (not on the final event).
  TokenId token = -1;
  std::string text;  // safe to emit now (may be empty: held back, or a special token)
  float logprob = 0;                               // when sampling.logprobs / top_logprobs
  std::vector<sampling::TokenLogprob> top_logprobs;  // sampling.top_logprobs entries

  // The final event: `text` holds any text released at the end.
  StopReason reason = StopReason::kNone;
  std::string error;  // for StopReason::kError
  Usage usage;
  Timings timings;
};

// submit() refuses a request at once when the queue of waiting requests is full (HTTP 503).
class OverloadedError : public Error {
 public:
  explicit OverloadedError(std::string message) : Error(ErrorCode::kOutOfMemory, std::move(message)) {}
};

// The prompt does not fit in the context (HTTP 400 CONTEXT_OVERFLOW).
class ContextOverflowError : public Error {
 public:
  explicit ContextOverflowError(std::string message) : Error(ErrorCode::kInvalidArgument, std::move(message)) {}
};

}  // namespace quarrel::runtime
