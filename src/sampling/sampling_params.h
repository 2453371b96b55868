#pragma once
// Sampling settings for one request, with llama.cpp's defaults. The server maps OpenAI fields
// (temperature, top_p, seed, presence/frequency_penalty, logit_bias, logprobs/top_logprobs) and
// Ollama options (temperature, top_k, top_p, min_p, typical_p, repeat_penalty, repeat_last_n,
// seed, ...) onto it. "Off" values leave a stage out of the chain.
#include <cstdint>
#include <map>
#include <optional>

namespace quarrel::sampling {

using TokenId = int32_t;

struct SamplingParams {
  float temperature = 0.8f;       // <= 0: greedy (argmax after bias and penalties)
  int32_t top_k = 40;             // <= 0: off
  float top_p = 0.95f;            // >= 1: off
  float min_p = 0.05f;            // <= 0: off
  float typical_p = 1.0f;         // >= 1: off
  float repeat_penalty = 1.0f;    // 1: off; > 1 discourages repeats (llama.cpp rule, see candidates.h)
  int32_t repeat_last_n = 64;     // penalty window: 0 off, -1 every token accepted so far
  float frequency_penalty = 0.0f; // subtracted once per occurrence in the window
  float presence_penalty = 0.0f;  // subtracted once if present in the window
  std::optional<uint64_t> seed;   // same seed, same logits -> same tokens; none: random
  std::map<TokenId, float> logit_bias;  // added to the token's logit; -infinity bans it
  int32_t min_keep = 1;           // truncating stages keep at least this many candidates
  bool logprobs = false;          // report the chosen token's log-probability
  int32_t top_logprobs = 0;       // and this many most likely tokens (see sampler.h)
};

// Throws Error(kInvalidArgument) naming the first field that makes no sense: NaN or infinite
// numbers, repeat_penalty <= 0, repeat_last_n < -1, negative min_keep or top_logprobs, a
// logit_bias token outside [0, n_vocab) or a NaN / +infinity bias.
void validate(const SamplingParams& params, int32_t n_vocab);

}  // namespace quarrel::sampling
