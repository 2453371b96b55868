#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.h"

namespace quarrel::sampling {
namespace {

// log p = logit - log_sum_exp; when every logit is -infinity, every logprob is.
float logprob(float logit, double lse) {
  return lse == -INFINITY ? -INFINITY : static_cast<float>(static_cast<double>(logit) - lse);
}

uint64_t random_seed() {
  std::random_device rd;
  return (static_cast<uint64_t>(rd()) << 32) ^ rd();
}

}  // namespace

Sampler::Sampler(SamplingParams params, int32_t n_vocab)
    : params_(std::move(params)),
      n_vocab_(n_vocab),
      seed_(params_.seed ? *params_.seed : random_seed()),
      rng_(seed_),
      history_(params_.repeat_last_n) {
  if (n_vocab <= 0) fail(ErrorCode::kInvalidArgument, "sampling: vocabulary size {} must be positive", n_vocab);
  validate(params_, n_vocab);
}

void Sampler::reset() {
  history_.clear();
  rng_ = Rng(seed_);
}

SampleResult Sampler::sample(std::span<const float> logits) { return sample(logits, own_); }

SampleResult Sampler::sample(std::span<const float> logits, CandidateList& list) {
  if (logits.size() != static_cast<size_t>(n_vocab_))
    fail(ErrorCode::kInternal, "sampling: got {} logits for a vocabulary of {}", logits.size(), n_vocab_);
  const SamplingParams& p = params_;
  const size_t min_keep = static_cast<size_t>(std::max(p.min_keep, 1));

  fill(list, logits);
  apply_logit_bias(list, p.logit_bias);
  apply_penalties(list, history_.counts(), p.repeat_penalty, p.frequency_penalty, p.presence_penalty);

  SampleResult r;
  const bool want_logprobs = p.logprobs || p.top_logprobs > 0;
  double lse = 0;
  if (want_logprobs) {
    lse = log_sum_exp(list);
    if (p.top_logprobs > 0) {
      const size_t n_top = std::min<size_t>(static_cast<size_t>(p.top_logprobs), list.size());
      const size_t k = p.temperature > 0 && p.top_k > 0 ? std::max(static_cast<size_t>(p.top_k), min_keep) : 0;
      const std::vector<Candidate>* best = &top_scratch_;
      if (k > 0 && k < list.size()) {
        // Top-k is next anyway: one selection of the max(k, n_top) best serves both.
        top_k(list, static_cast<int32_t>(std::max(k, n_top)), 1);
        best = &list.items;
      } else {
        best_of(list, n_top, top_scratch_);
      }
      r.top.reserve(n_top);
      for (size_t i = 0; i < n_top; ++i) r.top.push_back({(*best)[i].id, logprob((*best)[i].logit, lse)});
    }
  }

  const Candidate chosen = choose(list);
  r.token = chosen.id;
  if (want_logprobs) r.logprob = logprob(chosen.logit, lse);
  return r;
}

Candidate Sampler::choose(CandidateList& list) {
  const SamplingParams& p = params_;
  if (p.temperature <= 0.0f) return argmax(list);
  const size_t min_keep = static_cast<size_t>(std::max(p.min_keep, 1));
  top_k(list, p.top_k, min_keep);
  top_p(list, p.top_p, min_keep);
  min_p(list, p.min_p, min_keep);
  typical_p(list, p.typical_p, min_keep);
  return list.items[draw(list, p.temperature, rng_.uniform())];
}

std::optional<CandidateNeed> Sampler::candidate_need(int32_t max_k) const {
  const SamplingParams& p = params_;
  if (p.logprobs || p.top_logprobs > 0) return std::nullopt;
  if (p.temperature > 0.0f && p.top_k <= 0) return std::nullopt;
  CandidateNeed need;
  for (const auto& [id, bias] : p.logit_bias) need.ids.push_back(id);
  if (!(p.repeat_penalty == 1.0f && p.frequency_penalty == 0.0f && p.presence_penalty == 0.0f)) {
    for (const auto& [id, count] : history_.counts())
      if (count > 0) need.ids.push_back(id);
  }
  std::sort(need.ids.begin(), need.ids.end());
  need.ids.erase(std::unique(need.ids.begin(), need.ids.end()), need.ids.end());
  const int64_t keep = p.temperature <= 0.0f ? 1 : std::max<int64_t>(p.top_k, std::max(p.min_keep, 1));
  const int64_t k = keep + static_cast<int64_t>(need.ids.size());
  if (k > max_k || k >= n_vocab_) return std::nullopt;
  need.k = static_cast<int32_t>(k);
  return need;
}

SampleResult Sampler::sample_candidates(const CandidateNeed& need, std::span<const Candidate> best,
                                        std::span<const float> named) {
  if (best.size() != static_cast<size_t>(need.k) || named.size() != need.ids.size())
    fail(ErrorCode::kInternal, "sampling: {} best and {} named logits for a need of {} and {}", best.size(),
         named.size(), need.k, need.ids.size());
  CandidateList& list = own_;
  list.items.clear();
  for (size_t i = 0; i < named.size(); ++i) list.items.push_back({need.ids[i], sanitize_logit(named[i])});
  for (const Candidate& c : best) {
    if (!std::binary_search(need.ids.begin(), need.ids.end(), c.id)) list.items.push_back({c.id, sanitize_logit(c.logit)});
  }
  list.sorted = 0;
  list.id_order = false;
  apply_logit_bias(list, params_.logit_bias);
  apply_penalties(list, history_.counts(), params_.repeat_penalty, params_.frequency_penalty, params_.presence_penalty);
  // Rank order, as the whole-row chain has it after its top-k (or for its argmax).
  sort_prefix(list, list.size());
  SampleResult r;
  r.token = choose(list).id;
  return r;
}

}  // namespace quarrel::sampling
