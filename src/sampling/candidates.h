#pragma once
// The candidate list the sampler chain works on, and each stage of the chain as a function of
// it (so each is tested on its own). The list starts as every token in id order with its logit;
// stages change logits (bias, penalties) or drop candidates (top-k, top-p, min-p, typical-p).
// Probabilities are computed from logits where a stage needs them, at temperature 1: as in
// llama.cpp's default chain, temperature only shapes the final draw.
//
// Ordering is total: a higher logit first, equal logits by lower token id. So partial sorts give
// the same result with any standard library, and greedy ties go to the lowest id.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <unordered_map>
#include <vector>

#include "sampling/sampling_params.h"

namespace quarrel::sampling {

struct Candidate {
  TokenId id;
  float logit;
};

inline bool ranks_before(const Candidate& a, const Candidate& b) {
  return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

struct CandidateList {
  std::vector<Candidate> items;
  size_t sorted = 0;        // items[0, sorted) are the `sorted` best, in rank order
  bool id_order = false;    // items[i].id == i for every i (the untouched full vocabulary)

  size_t size() const { return items.size(); }
};

// NaN -> -infinity, +infinity -> FLT_MAX, on the bits (branch-free, so loops over it vectorize).
inline float sanitize_logit(float f) {
  uint32_t b = std::bit_cast<uint32_t>(f);
  const uint32_t is_nan = 0u - static_cast<uint32_t>((b & 0x7fffffffu) > 0x7f800000u);
  const uint32_t is_inf = 0u - static_cast<uint32_t>(b == 0x7f800000u);
  b = (b & ~is_nan) | (0xff800000u & is_nan);
  b = (b & ~is_inf) | (0x7f7fffffu & is_inf);
  return std::bit_cast<float>(b);
}

// Every token of logits [n_vocab], in id order. NaN logits become -infinity and +infinity
// becomes the largest float, so that every later stage sees an ordered, finite-or-minus-infinity
// list (a broken model cannot make the sampler misbehave).
void fill(CandidateList& list, std::span<const float> logits);

// Makes items[0, m) the m best in rank order (partial sort), m clamped to the size.
void sort_prefix(CandidateList& list, size_t m);
// out = the m best candidates in rank order (m clamped to the size); the list is unchanged.
// One pass over the list with a rising threshold: about a compare per candidate.
void best_of(const CandidateList& list, size_t m, std::vector<Candidate>& out);

// logit += bias for each entry; tokens not in the list are ignored.
void apply_logit_bias(CandidateList& list, const std::map<TokenId, float>& bias);

// For each token seen `count` times in the penalty window (llama.cpp's rule):
//   repetition: logit <= 0 ? logit * repeat : logit / repeat;
//   then logit -= count * frequency + presence.
void apply_penalties(CandidateList& list, const std::unordered_map<TokenId, int32_t>& counts,
                     float repeat, float frequency, float presence);

// The k best (k <= 0: no-op; at least min_keep), left sorted.
void top_k(CandidateList& list, int32_t k, size_t min_keep);
// The smallest best-first prefix whose probability reaches p (p >= 1: no-op), left sorted.
void top_p(CandidateList& list, float p, size_t min_keep);
// Candidates whose probability is at least p times the best one's (p <= 0: no-op). Keeps order.
void min_p(CandidateList& list, float p, size_t min_keep);
// Locally typical sampling: candidates ordered by |-log prob - entropy|, the shortest such prefix
// whose probability exceeds p (p >= 1: no-op). Leaves the list in that order.
void typical_p(CandidateList& list, float p, size_t min_keep);

// The best candidate (greedy); the list must not be empty.
Candidate argmax(const CandidateList& list);

// Index in items of the candidate a uniform u in [0, 1) selects from softmax(logit / temperature)
// (temperature > 0), walking the list in its order; the list must not be empty.
size_t draw(const CandidateList& list, float temperature, double u);

// log(sum(exp(logit))) over the list, from the largest logit (-infinity if all are).
double log_sum_exp(const CandidateList& list);

}  // namespace quarrel::sampling
