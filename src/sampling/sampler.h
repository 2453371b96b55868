#pragma once
// The sampler chain for one sequence:
//   logit bias -> repetition / frequency / presence penalties (last-N window) -> top-k -> top-p
//   -> min-p -> typical-p -> temperature -> greedy (temperature <= 0) or a seeded draw.
// Truncating stages work at temperature 1 (as llama.cpp's default chain, where temperature
// comes last); greedy is the argmax after bias and penalties (truncation cannot change it).
//
// Log-probabilities (params.logprobs / top_logprobs) come from the full-vocabulary softmax of
// the processed logits -- after logit bias and penalties, at temperature 1, before any
// truncation -- like OpenAI's logprobs (the model's distribution, not the truncated sampling
// distribution). The chosen token's logprob is from the same distribution, so it is finite
// even when sampling could only have picked that token; it is -infinity only for a banned token.
//
// Determinism: the same seed and the same logits give the same tokens on every platform: own
// PRNG (xoshiro256**, seeded through splitmix64) and uniform draw, own exp (fast_exp.h), total
// orders for every sort. Only typical-p uses libm (exp/log in double).
// Each sampler owns its RNG state: sequences never share one.
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sampling/candidates.h"
#include "sampling/rng.h"
#include "sampling/sampling_params.h"
#include "sampling/token_history.h"

namespace quarrel::sampling {

struct TokenLogprob {
  TokenId token = -1;
  float logprob = 0.0f;
  bool operator==(const TokenLogprob&) const = default;
};

struct SampleResult {
  TokenId token = -1;
  float logprob = 0.0f;             // when params.logprobs or top_logprobs > 0
  std::vector<TokenLogprob> top;    // top_logprobs entries, most likely first (ties: lower id)
};

// A step that can be served from part of the logits row (a device backend then sends back only
// that part): the k best tokens by logit, and the logits of `ids`, the tokens that logit bias
// and the penalties change. That is exact: the tokens the chain keeps are among the k - |ids|
// best unchanged tokens (all within the k best overall) and the changed ones.
struct CandidateNeed {
  int32_t k = 0;
  std::vector<TokenId> ids;  // sorted, distinct
};

class Sampler {
 public:
  // Validates params (Error kInvalidArgument on nonsense); n_vocab is the logits' length.
  Sampler(SamplingParams params, int32_t n_vocab);

  // Picks the next token from logits [n_vocab]. Does not accept it: call accept() with the token
  // the sequence actually continues with.
  SampleResult sample(std::span<const float> logits);
  // The same, with a caller-owned candidate buffer (one per engine thread instead of one per
  // sequence: the buffer holds n_vocab candidates).
  SampleResult sample(std::span<const float> logits, CandidateList& scratch);

  // What the next sample() needs when it can do with candidates, k <= max_k; nullopt when it
  // needs the whole row (log-probabilities asked for, top-k off while sampling, or too many
  // candidates for max_k or the vocabulary).
  std::optional<CandidateNeed> candidate_need(int32_t max_k) const;
  // sample() from the candidates candidate_need() asked for: `best` the k best tokens (in any
  // order), named[i] the logit of need.ids[i]. Same result, and the same RNG step, as sample()
  // on the whole row.
  SampleResult sample_candidates(const CandidateNeed& need, std::span<const Candidate> best,
                                 std::span<const float> named);

  // Adds tokens to the penalty window. The runtime accepts each generated token; it may also
  // accept the prompt (llama.cpp's server does, so prompt tokens are penalized too).
  void accept(TokenId token) { history_.push(token); }
  void accept(std::span<const TokenId> tokens) {
    for (TokenId t : tokens) history_.push(t);
  }
  // Empties the penalty window and restarts the RNG from the seed.
  void reset();

  const SamplingParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }  // the one in use (drawn at random when none was given)
  int32_t n_vocab() const { return n_vocab_; }
  const TokenHistory& history() const { return history_; }

 private:
  // The truncating stages and the draw (or the argmax), on a list after bias and penalties.
  Candidate choose(CandidateList& list);

  SamplingParams params_;
  int32_t n_vocab_;
  uint64_t seed_;
  Rng rng_;
  TokenHistory history_;
  CandidateList own_;
  std::vector<Candidate> top_scratch_;
};

}  // namespace quarrel::sampling
