// Each stage of the chain on hand-made distributions whose results can be worked out by hand.
#include "sampling/candidates.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <random>
#include <vector>

#include "common/random.h"
#include "sampling/fast_exp.h"

namespace quarrel::sampling {
namespace {

// A list whose probabilities (at temperature 1) are probs, for tokens ids[i].
CandidateList from_probs(const std::vector<double>& probs, std::vector<TokenId> ids = {}) {
  CandidateList l;
  if (ids.empty()) {
    for (size_t i = 0; i < probs.size(); ++i) ids.push_back(static_cast<TokenId>(i));
    l.id_order = true;
  }
  for (size_t i = 0; i < probs.size(); ++i) l.items.push_back({ids[i], static_cast<float>(std::log(probs[i]))});
  return l;
}

std::vector<TokenId> ids(const CandidateList& l) {
  std::vector<TokenId> out;
  for (const Candidate& c : l.items) out.push_back(c.id);
  return out;
}

const std::vector<double> kP = {0.5, 0.3, 0.15, 0.05};

TEST(Candidates, FillKeepsIdOrderAndSanitizes) {
  CandidateList l;
  fill(l, std::vector<float>{1.0f, NAN, INFINITY, -INFINITY});
  ASSERT_EQ(l.size(), 4u);
  EXPECT_TRUE(l.id_order);
  EXPECT_EQ(l.sorted, 0u);
  EXPECT_EQ(ids(l), (std::vector<TokenId>{0, 1, 2, 3}));
  EXPECT_EQ(l.items[0].logit, 1.0f);
  EXPECT_EQ(l.items[1].logit, -INFINITY);
  EXPECT_EQ(l.items[2].logit, FLT_MAX);
  EXPECT_EQ(l.items[3].logit, -INFINITY);
}

TEST(Candidates, SortPrefixBreaksTiesByLowerId) {
  CandidateList l;
  fill(l, std::vector<float>{1, 3, 3, 0, 3, 2});
  sort_prefix(l, 4);
  EXPECT_EQ(l.sorted, 4u);
  EXPECT_FALSE(l.id_order);
  const auto first = ids(l);
  EXPECT_EQ(std::vector<TokenId>(first.begin(), first.begin() + 4), (std::vector<TokenId>{1, 2, 4, 5}));
  sort_prefix(l, 100);
  EXPECT_EQ(l.sorted, 6u);
  EXPECT_EQ(ids(l), (std::vector<TokenId>{1, 2, 4, 5, 0, 3}));
}

TEST(Candidates, LogitBias) {
  CandidateList l;
  fill(l, std::vector<float>{1, 2, 3});
  apply_logit_bias(l, {{0, 5.0f}, {2, -INFINITY}, {7, 1.0f}});
  EXPECT_EQ(l.items[0].logit, 6.0f);
  EXPECT_EQ(l.items[1].logit, 2.0f);
  EXPECT_EQ(l.items[2].logit, -INFINITY);
  // The same on a list that is no longer in id order.
  CandidateList s = from_probs({0.2, 0.8}, {9, 4});
  const float before = s.items[0].logit;
  apply_logit_bias(s, {{9, 1.5f}});
  EXPECT_FLOAT_EQ(s.items[0].logit, before + 1.5f);
}

TEST(Candidates, PenaltiesFollowLlamaCppRule) {
  CandidateList l;
  fill(l, std::vector<float>{2.0f, -1.0f, 0.5f, 3.0f});
  // token 0 seen twice, token 1 once; repeat 2, frequency 0.5, presence 0.25
  apply_penalties(l, {{0, 2}, {1, 1}, {99, 3}}, 2.0f, 0.5f, 0.25f);
  EXPECT_FLOAT_EQ(l.items[0].logit, 2.0f / 2 - 2 * 0.5f - 0.25f);   // -0.25
  EXPECT_FLOAT_EQ(l.items[1].logit, -1.0f * 2 - 1 * 0.5f - 0.25f);  // -2.75
  EXPECT_FLOAT_EQ(l.items[2].logit, 0.5f);
  EXPECT_FLOAT_EQ(l.items[3].logit, 3.0f);
  // Off: no change.
  CandidateList m;
  fill(m, std::vector<float>{2.0f});
  apply_penalties(m, {{0, 5}}, 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(m.items[0].logit, 2.0f);
}

TEST(Candidates, TopK) {
  CandidateList l;
  fill(l, std::vector<float>{1, 5, 3, 4, 2});
  top_k(l, 3, 1);
  EXPECT_EQ(ids(l), (std::vector<TokenId>{1, 3, 2}));
  EXPECT_EQ(l.sorted, 3u);

  CandidateList off;
  fill(off, std::vector<float>{1, 5, 3});
  top_k(off, 0, 1);
  EXPECT_EQ(off.size(), 3u);
  top_k(off, 10, 1);
  EXPECT_EQ(off.size(), 3u);

  CandidateList mk;
  fill(mk, std::vector<float>{1, 5, 3, 4, 2});
  top_k(mk, 2, 4);  // min_keep wins
  EXPECT_EQ(ids(mk), (std::vector<TokenId>{1, 3, 2, 4}));
}

TEST(Candidates, TopPKeepsTheSmallestPrefixReachingP) {
  // [0.5, 0.3, 0.15, 0.05]: cumulative 0.5, 0.8, 0.95, 1.
  const std::vector<std::pair<float, size_t>> cases = {{0.4f, 1}, {0.7f, 2}, {0.9f, 3}, {0.96f, 4}, {0.0f, 1}};
  for (auto [p, keep] : cases) {
    // Given out of order, with other ids: top-p sorts what it needs.
    CandidateList l = from_probs({0.15, 0.5, 0.05, 0.3}, {12, 10, 13, 11});
    top_p(l, p, 1);
    std::vector<TokenId> want = {10, 11, 12, 13};
    want.resize(keep);
    EXPECT_EQ(ids(l), want) << "p=" << p;
  }
  CandidateList off = from_probs(kP);
  top_p(off, 1.0f, 1);
  EXPECT_EQ(off.size(), 4u);
  CandidateList mk = from_probs(kP);
  top_p(mk, 0.4f, 3);
  EXPECT_EQ(ids(mk), (std::vector<TokenId>{0, 1, 2}));
}

TEST(Candidates, TopPOverALargeUnsortedVocabularyMatchesABruteForceCut) {
  std::mt19937_64 rng(test::test_seed());
  for (int trial = 0; trial < 20; ++trial) {
    const size_t n = 1000 + trial * 997;
    const auto logits = test::random_floats(rng, n, -8.0f, 8.0f);
    const float p = 0.05f * static_cast<float>(1 + trial % 19);
    CandidateList l;
    fill(l, logits);
    top_p(l, p, 1);
    // Brute force: every kept token outranks every dropped one, and the cut is the first
    // prefix reaching p (checked with a tolerance for summation order).
    std::vector<double> probs(logits.begin(), logits.end());
    const double mx = *std::max_element(probs.begin(), probs.end());
    double total = 0;
    for (double& x : probs) total += x = std::exp(x - mx);
    std::vector<double> sorted = probs;
    std::sort(sorted.rbegin(), sorted.rend());
    double cum_before = 0;
    for (size_t i = 0; i + 1 < l.size(); ++i) cum_before += sorted[i] / total;
    const double cum_at = cum_before + sorted[l.size() - 1] / total;
    EXPECT_LT(cum_before, p + 1e-6) << "n=" << n << " p=" << p;
    EXPECT_GE(cum_at, p - 1e-6) << "n=" << n << " p=" << p;
    for (size_t i = 0; i < l.size(); ++i)
      EXPECT_DOUBLE_EQ(probs[l.items[i].id] / total, sorted[i] / total) << "rank " << i;
  }
}

TEST(Candidates, MinP) {
  // min_p 0.2 of 0.5 = 0.1: keeps 0.5, 0.3, 0.15; min_p 0.5: 0.25: keeps 0.5, 0.3.
  CandidateList l = from_probs({0.15, 0.5, 0.05, 0.3}, {12, 10, 13, 11});
  min_p(l, 0.2f, 1);
  EXPECT_EQ(ids(l), (std::vector<TokenId>{12, 10, 11}));  // order kept
  min_p(l, 0.5f, 1);
  EXPECT_EQ(ids(l), (std::vector<TokenId>{10, 11}));
  CandidateList mk = from_probs(kP);
  min_p(mk, 0.9f, 3);  // only one passes, min_keep 3
  EXPECT_EQ(ids(mk), (std::vector<TokenId>{0, 1, 2}));
  CandidateList off = from_probs(kP);
  min_p(off, 0.0f, 1);
  EXPECT_EQ(off.size(), 4u);
}

TEST(Candidates, TypicalP) {
  // H = -sum p ln p = 1.14212 for [0.5, 0.3, 0.15, 0.05]; |-ln p - H| = 0.449, 0.062, 0.755,
  // 1.853: the typical order is 0.3, 0.5, 0.15, 0.05 (cumulative 0.3, 0.8, 0.95, 1).
  const std::vector<std::pair<float, std::vector<TokenId>>> cases = {
      {0.2f, {1}}, {0.5f, {1, 0}}, {0.9f, {1, 0, 2}}, {0.97f, {1, 0, 2, 3}}};
  for (const auto& [p, want] : cases) {
    CandidateList l = from_probs(kP);
    typical_p(l, p, 1);
    EXPECT_EQ(ids(l), want) << "p=" << p;
    EXPECT_EQ(l.sorted, 0u);
  }
  CandidateList mk = from_probs(kP);
  typical_p(mk, 0.2f, 2);
  EXPECT_EQ(ids(mk), (std::vector<TokenId>{1, 0}));
  CandidateList off = from_probs(kP);
  typical_p(off, 1.0f, 1);
  EXPECT_EQ(off.size(), 4u);
}

TEST(Candidates, ArgmaxPrefersTheLowerIdOnTies) {
  CandidateList l;
  fill(l, std::vector<float>{1, 7, 3, 7});
  EXPECT_EQ(argmax(l).id, 1);
  fill(l, std::vector<float>{-INFINITY, -INFINITY});
  EXPECT_EQ(argmax(l).id, 0);
}

TEST(Candidates, DrawWalksTheCumulativeDistribution) {
  CandidateList l = from_probs(kP);  // cumulative 0.5, 0.8, 0.95, 1
  EXPECT_EQ(draw(l, 1.0f, 0.0), 0u);
  EXPECT_EQ(draw(l, 1.0f, 0.49), 0u);
  EXPECT_EQ(draw(l, 1.0f, 0.51), 1u);
  EXPECT_EQ(draw(l, 1.0f, 0.79), 1u);
  EXPECT_EQ(draw(l, 1.0f, 0.81), 2u);
  EXPECT_EQ(draw(l, 1.0f, 0.96), 3u);
  EXPECT_EQ(draw(l, 1.0f, 0.999999), 3u);
  // Temperature 0.5 squares the probabilities: 0.25, 0.09, 0.0225, 0.0025 over 0.365 ->
  // 0.6849, 0.2466, 0.0616, 0.0068 (cumulative 0.6849, 0.9315, 0.9932).
  EXPECT_EQ(draw(l, 0.5f, 0.68), 0u);
  EXPECT_EQ(draw(l, 0.5f, 0.69), 1u);
  EXPECT_EQ(draw(l, 0.5f, 0.93), 1u);
  EXPECT_EQ(draw(l, 0.5f, 0.94), 2u);
  EXPECT_EQ(draw(l, 0.5f, 0.995), 3u);
  // Temperature 2 takes square roots: 0.7071, 0.5477, 0.3873, 0.2236 over 1.8657 -> 0.379, ...
  EXPECT_EQ(draw(l, 2.0f, 0.37), 0u);
  EXPECT_EQ(draw(l, 2.0f, 0.38), 1u);
  // A banned candidate is never drawn.
  CandidateList b;
  fill(b, std::vector<float>{0.0f, -INFINITY, 0.0f});
  for (double u : {0.0, 0.4999, 0.5001, 0.99999}) EXPECT_NE(draw(b, 1.0f, u), 1u);
}

TEST(Candidates, LogSumExp) {
  CandidateList l = from_probs(kP);
  EXPECT_NEAR(log_sum_exp(l), 0.0, 1e-6);
  fill(l, std::vector<float>{1000.0f, 1000.0f});
  EXPECT_NEAR(log_sum_exp(l), 1000.0 + std::log(2.0), 1e-4);
  fill(l, std::vector<float>{-INFINITY});
  EXPECT_EQ(log_sum_exp(l), -INFINITY);
}

}  // namespace
}  // namespace quarrel::sampling

namespace quarrel::sampling {
namespace {

TEST(FastExp, MatchesStdExpWithinAFewUlps) {
  double worst = 0;
  for (float x = -87.0f; x <= 0.0f; x += 0.00173f) {
    const double want = std::exp(static_cast<double>(x));
    const double rel = std::abs(exp_nonpositive(x) - want) / want;
    worst = std::max(worst, rel);
  }
  EXPECT_LT(worst, 3e-7);
  EXPECT_EQ(exp_nonpositive(0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-0.0f), 1.0f);
  EXPECT_EQ(exp_nonpositive(-INFINITY), 0.0f);
  EXPECT_EQ(exp_nonpositive(-88.0f), 0.0f);
  EXPECT_EQ(exp_nonpositive(-1e30f), 0.0f);
  EXPECT_GT(exp_nonpositive(-87.0f), 0.0f);
}

}  // namespace
}  // namespace quarrel::sampling

namespace quarrel::sampling {
namespace {

TEST(Candidates, BestOfMatchesAFullSortIncludingTiesAndSignedZeros) {
  std::mt19937_64 rng(test::test_seed());
  for (int trial = 0; trial < 300; ++trial) {
    const size_t n = 1 + rng() % 20000;
    std::vector<float> logits(n);
    for (float& x : logits) {
      switch (rng() % 8) {
        case 0: x = 0.0f; break;
        case 1: x = -0.0f; break;
        case 2: x = -INFINITY; break;
        case 3: x = static_cast<float>(rng() % 5); break;  // many ties
        default: x = static_cast<float>(static_cast<int64_t>(rng() % 20001) - 10000) / 997.0f;
      }
    }
    CandidateList l;
    fill(l, logits);
    std::vector<Candidate> want = l.items;
    std::sort(want.begin(), want.end(), ranks_before);
    const size_t m = 1 + rng() % std::min<size_t>(n, 300);
    std::vector<Candidate> got;
    best_of(l, m, got);
    ASSERT_EQ(got.size(), m);
    for (size_t i = 0; i < m; ++i) ASSERT_EQ(got[i].id, want[i].id) << "n=" << n << " m=" << m << " i=" << i;
    EXPECT_TRUE(l.id_order);  // unchanged
    top_k(l, static_cast<int32_t>(m), 1);
    ASSERT_EQ(l.size(), m);
    if (m < n) {  // (k >= the size keeps the list as it is)
      for (size_t i = 0; i < m; ++i) ASSERT_EQ(l.items[i].id, want[i].id);
    }
    CandidateList g;
    fill(g, logits);
    ASSERT_EQ(argmax(g).id, want[0].id);
  }
}

}  // namespace
}  // namespace quarrel::sampling
