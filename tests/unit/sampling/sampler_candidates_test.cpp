// Sampler::sample_candidates (the part of the row a device backend sends back) against
// Sampler::sample on the whole row: the same tokens, step after step, for random logits and
// random sampling settings -- ties, NaN and infinities, bias both ways, penalties both ways.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "common/random.h"
#include "sampling/sampler.h"

namespace quarrel::sampling {
namespace {

// The k best of a row in the sampler's rank order, computed here from the definition (a full
// sort), as a backend would send them.
std::vector<Candidate> best_k(const std::vector<float>& logits, int32_t k) {
  std::vector<Candidate> all;
  for (size_t i = 0; i < logits.size(); ++i) all.push_back({static_cast<TokenId>(i), sanitize_logit(logits[i])});
  std::sort(all.begin(), all.end(), ranks_before);
  all.resize(static_cast<size_t>(k));
  for (Candidate& c : all) c.logit = logits[static_cast<size_t>(c.id)];  // as computed, not sanitized
  return all;
}

std::vector<float> random_row(std::mt19937_64& rng, int32_t n) {
  std::vector<float> row(static_cast<size_t>(n));
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  const int style = static_cast<int>(rng() % 3);
  for (float& x : row) {
    x = u(rng);
    if (style == 1) x = std::round(x);  // many ties
  }
  if (style == 2) {  // a broken model: NaN and infinities
    for (int i = 0; i < 5; ++i) row[rng() % row.size()] = NAN;
    row[rng() % row.size()] = INFINITY;
    row[rng() % row.size()] = -INFINITY;
  }
  return row;
}

SamplingParams random_params(std::mt19937_64& rng, int32_t n_vocab) {
  SamplingParams p;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  p.seed = rng();
  p.temperature = rng() % 4 == 0 ? 0.0f : 0.2f + 1.5f * u(rng);
  p.top_k = 1 + static_cast<int32_t>(rng() % 60);
  p.top_p = rng() % 2 ? 1.0f : 0.5f + 0.5f * u(rng);
  p.min_p = rng() % 2 ? 0.0f : 0.2f * u(rng);
  p.typical_p = rng() % 4 == 0 ? 0.7f + 0.3f * u(rng) : 1.0f;
  p.min_keep = 1 + static_cast<int32_t>(rng() % 3);
  if (rng() % 2) {
    p.repeat_penalty = 0.8f + 0.8f * u(rng);
    p.frequency_penalty = u(rng) - 0.5f;
    p.presence_penalty = u(rng) - 0.5f;
    p.repeat_last_n = rng() % 3 == 0 ? -1 : 16;
  }
  for (int i = static_cast<int>(rng() % 4); i > 0; --i) {
    const TokenId id = static_cast<TokenId>(rng() % static_cast<uint64_t>(n_vocab));
    p.logit_bias[id] = rng() % 5 == 0 ? -INFINITY : 10.0f * (u(rng) - 0.5f);
  }
  return p;
}

TEST(SamplerCandidates, SameTokensAsTheWholeRow) {
  const uint64_t seed = test::test_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  int served = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int32_t n_vocab = trial % 3 == 0 ? 64 : 1000;
    const SamplingParams p = random_params(rng, n_vocab);
    Sampler whole(p, n_vocab), part(p, n_vocab);
    for (int step = 0; step < 12; ++step) {
      const std::vector<float> row = random_row(rng, n_vocab);
      const SampleResult want = whole.sample(row);
      const std::optional<CandidateNeed> need = part.candidate_need(1024);
      SampleResult got;
      if (need) {
        ++served;
        std::vector<float> named;
        for (TokenId id : need->ids) named.push_back(row[static_cast<size_t>(id)]);
        std::vector<Candidate> best = best_k(row, need->k);
        std::shuffle(best.begin(), best.end(), rng);  // "in any order"
        got = part.sample_candidates(*need, best, named);
      } else {
        got = part.sample(row);  // keeps the two RNGs in step
      }
      ASSERT_EQ(got.token, want.token) << "trial " << trial << " step " << step << " temperature " << p.temperature
                                       << " top_k " << p.top_k;
      whole.accept(want.token);
      part.accept(want.token);
    }
  }
  EXPECT_GT(served, 2000);  // the candidate path really ran
}

TEST(SamplerCandidates, NeedsTheWholeRowWhenCandidatesCannotServe) {
  SamplingParams p;
  p.seed = 1;
  p.top_k = 40;
  p.repeat_penalty = 1.1f;
  Sampler s(p, 1000);
  ASSERT_TRUE(s.candidate_need(1024).has_value());
  EXPECT_EQ(s.candidate_need(1024)->k, 40);
  s.accept(std::vector<TokenId>{7, 3, 7});
  const auto need = s.candidate_need(1024);
  ASSERT_TRUE(need.has_value());
  EXPECT_EQ(need->k, 42);  // 40 + the two penalized tokens
  EXPECT_EQ(need->ids, (std::vector<TokenId>{3, 7}));
  EXPECT_FALSE(s.candidate_need(41).has_value());  // over the caller's limit

  SamplingParams lp = p;
  lp.logprobs = true;
  EXPECT_FALSE(Sampler(lp, 1000).candidate_need(1024).has_value());
  SamplingParams no_top_k = p;
  no_top_k.top_k = 0;
  EXPECT_FALSE(Sampler(no_top_k, 1000).candidate_need(1024).has_value());
  no_top_k.temperature = 0.0f;  // greedy: the best one (plus the changed ones) is enough
  ASSERT_TRUE(Sampler(no_top_k, 1000).candidate_need(1024).has_value());
  EXPECT_EQ(Sampler(no_top_k, 1000).candidate_need(1024)->k, 1);
  EXPECT_FALSE(Sampler(p, 40).candidate_need(1024).has_value());  // k would be the whole vocabulary
}

}  // namespace
}  // namespace quarrel::sampling
