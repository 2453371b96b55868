#include "sampling/candidates.h"

#include <algorithm>
#include <bit>
#include <climits>
#include <cstring>
#include <cfloat>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "sampling/fast_exp.h"

namespace quarrel::sampling {
namespace {

// A signed integer with the same order as the float (for non-NaN values; -0 sorts just below
// +0): integer compares vectorize where float ones do not (GCC's default -ftrapping-math).
inline int32_t order_key(float f) {
  const int32_t b = std::bit_cast<int32_t>(f);
  return b ^ ((b >> 31) & 0x7fffffff);
}

float max_logit(const CandidateList& list) {
  if (list.sorted > 0) return list.items[0].logit;
  // On order keys: an integer max reduction, which vectorizes.
  int32_t k = INT32_MIN;
  for (const Candidate& c : list.items) k = std::max(k, order_key(c.logit));
  if (list.items.empty()) return -INFINITY;
  return std::bit_cast<float>(k ^ ((k >> 31) & 0x7fffffff));
}

size_t keep_at_least(size_t min_keep) { return std::max<size_t>(min_keep, 1); }

constexpr size_t kBlock = 1024;  // weights are summed per block of this many candidates

// Sums v[0..n) (n <= kBlock) in two 4-float vector accumulators: a fixed order, so the same
// result on every platform, and vector adds (GCC/Clang vector extensions).
float block_sum(const float* v, size_t n) {
  typedef float f4 __attribute__((vector_size(16)));
  f4 a = {0, 0, 0, 0}, b = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    f4 x, y;
    std::memcpy(&x, v + i, sizeof x);
    std::memcpy(&y, v + i + 4, sizeof y);
    a += x;
    b += y;
  }
  const f4 t = a + b;
  float s = (t[0] + t[1]) + (t[2] + t[3]);
  for (; i < n; ++i) s += v[i];
  return s;
}

// w[i] = exp((items[i].logit - mx) * scale) for every candidate (scale > 0, so every argument
// is <= 0), and the sum of each block of kBlock weights; returns the total. Vectorizable;
// the buffers are per thread.
double exp_weights(const CandidateList& list, float mx, float scale, std::vector<float>& w,
                   std::vector<double>& block_sums) {
  const size_t n = list.size();
  w.resize(n);
  block_sums.clear();
  const Candidate* c = list.items.data();
  float* out = w.data();
  for (size_t i = 0; i < n; ++i) out[i] = exp_nonpositive((c[i].logit - mx) * scale);
  double total = 0;
  for (size_t b = 0; b < n; b += kBlock) {
    const double bs = block_sum(out + b, std::min(kBlock, n - b));
    block_sums.push_back(bs);
    total += bs;
  }
  return total;
}

thread_local std::vector<float> t_weights;
thread_local std::vector<double> t_block_sums;
thread_local std::vector<Candidate> t_best;

}  // namespace

void best_of(const CandidateList& list, size_t m, std::vector<Candidate>& out) {
  const size_t n = list.size();
  m = std::min(m, n);
  out.clear();
  if (m == 0) return;
  if (list.sorted >= m) {
    out.assign(list.items.begin(), list.items.begin() + static_cast<ptrdiff_t>(m));
    return;
  }
  if (m * 4 >= n) {  // most of the list: just sort a copy
    out = list.items;
    std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(m), out.end(), ranks_before);
    out.resize(m);
    return;
  }
  // One pass with a rising threshold: keep candidates at or above it in `out`; when `out` is
  // full, cut it to the m best and raise the threshold to the m-th best. Anything below the
  // threshold cannot be among the m best. Groups of 8 are tested with integer compares first.
  const size_t cap = std::max<size_t>(4 * m, 1024);
  out.reserve(cap + 8);
  int32_t threshold = INT32_MIN;
  auto compact = [&] {
    std::nth_element(out.begin(), out.begin() + static_cast<ptrdiff_t>(m - 1), out.end(), ranks_before);
    out.resize(m);
    threshold = order_key(out[m - 1].logit) - 1;  // - 1: -0 and +0 rank equal
  };
  const Candidate* c = list.items.data();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint32_t any = 0;
    for (int j = 0; j < 8; ++j) any |= static_cast<uint32_t>(order_key(c[i + j].logit) >= threshold);
    if (any == 0) continue;
    for (int j = 0; j < 8; ++j)
      if (order_key(c[i + j].logit) >= threshold) out.push_back(c[i + j]);
    if (out.size() >= cap) compact();
  }
  for (; i < n; ++i)
    if (order_key(c[i].logit) >= threshold) out.push_back(c[i]);
  std::partial_sort(out.begin(), out.begin() + static_cast<ptrdiff_t>(std::min(m, out.size())), out.end(), ranks_before);
  out.resize(m);
}

void fill(CandidateList& list, std::span<const float> logits) {
  list.items.resize(logits.size());
  Candidate* out = list.items.data();
  const float* in = logits.data();
  for (size_t i = 0; i < logits.size(); ++i) out[i] = {static_cast<TokenId>(i), sanitize_logit(in[i])};
  list.sorted = 0;
  list.id_order = true;
}

void sort_prefix(CandidateList& list, size_t m) {
  m = std::min(m, list.size());
  if (m <= list.sorted) return;
  auto& v = list.items;
  if (m == v.size()) {
    std::sort(v.begin(), v.end(), ranks_before);
  } else {
    std::partial_sort(v.begin(), v.begin() + static_cast<ptrdiff_t>(m), v.end(), ranks_before);
  }
  list.sorted = m;
  list.id_order = false;
}

void apply_logit_bias(CandidateList& list, const std::map<TokenId, float>& bias) {
  if (bias.empty()) return;
  for (const auto& [id, b] : bias) {
    if (list.id_order) {
      if (id >= 0 && static_cast<size_t>(id) < list.size()) list.items[id].logit += b;
    } else {
      for (Candidate& c : list.items)
        if (c.id == id) c.logit += b;
    }
  }
  list.sorted = 0;  // order by logit may have changed
}

void apply_penalties(CandidateList& list, const std::unordered_map<TokenId, int32_t>& counts,
                     float repeat, float frequency, float presence) {
  if (counts.empty() || (repeat == 1.0f && frequency == 0.0f && presence == 0.0f)) return;
  auto penalize = [&](Candidate& c, int32_t count) {
    if (count <= 0) return;
    float l = c.logit;
    l = l <= 0 ? l * repeat : l / repeat;
    l -= static_cast<float>(count) * frequency + presence;
    c.logit = l;
  };
  if (list.id_order) {
    for (const auto& [id, count] : counts)
      if (id >= 0 && static_cast<size_t>(id) < list.size()) penalize(list.items[id], count);
  } else {
    for (Candidate& c : list.items) {
      auto it = counts.find(c.id);
      if (it != counts.end()) penalize(c, it->second);
    }
  }
  list.sorted = 0;
}

void top_k(CandidateList& list, int32_t k, size_t min_keep) {
  if (k <= 0) return;
  const size_t keep = std::max(static_cast<size_t>(k), keep_at_least(min_keep));
  if (keep >= list.size()) return;
  if (list.sorted >= keep) {
    list.items.resize(keep);
  } else {
    best_of(list, keep, t_best);
    list.items.swap(t_best);
  }
  list.sorted = keep;
  list.id_order = false;
}

void top_p(CandidateList& list, float p, size_t min_keep) {
  if (p >= 1.0f || list.size() <= 1) return;
  const size_t n = list.size();
  const size_t min_n = std::min(keep_at_least(min_keep), n);
  const float mx = max_logit(list);
  if (mx == -INFINITY) return;  // nothing is possible; leave it to the draw
  const double total = exp_weights(list, mx, 1.0f, t_weights, t_block_sums);
  const double target = static_cast<double>(p) * total;
  // Rank only as far as the cumulative probability needs: with top-k first the list is already
  // sorted; without it, the best 64, 512, ... are selected until the target is reached.
  for (size_t m = std::max<size_t>(list.sorted, 64);; m *= 8) {
    m = std::min(m, n);
    const bool sorted = list.sorted >= m;
    if (!sorted) best_of(list, m, t_best);
    const Candidate* best = sorted ? list.items.data() : t_best.data();
    double cum = 0;
    for (size_t i = 0; i < m; ++i) {
      cum += exp_nonpositive(best[i].logit - mx);
      if (cum >= target && i + 1 >= min_n) {
        if (sorted) {
          list.items.resize(i + 1);
        } else {
          t_best.resize(i + 1);
          list.items.swap(t_best);
          list.id_order = false;
        }
        list.sorted = i + 1;
        return;
      }
    }
    if (m == n) return;  // rounding left the target unreached: keep everything
  }
}

void min_p(CandidateList& list, float p, size_t min_keep) {
  if (p <= 0.0f || list.size() <= 1) return;
  const float mx = max_logit(list);
  if (mx == -INFINITY) return;
  // prob >= p * max_prob  <=>  logit >= max_logit + log(p)
  const float threshold = mx + std::log(p);
  size_t kept = 0;
  for (const Candidate& c : list.items) kept += c.logit >= threshold ? 1 : 0;
  const size_t min_n = std::min(keep_at_least(min_keep), list.size());
  if (kept < min_n) {
    sort_prefix(list, min_n);
    list.items.resize(min_n);
    return;
  }
  // Stable removal: the survivors are exactly the best `kept`, so a sorted prefix stays one.
  auto end = std::remove_if(list.items.begin(), list.items.end(),
                            [&](const Candidate& c) { return c.logit < threshold; });
  list.items.erase(end, list.items.end());
  list.sorted = std::min(list.sorted, list.size());
  QUARREL_ASSERT(list.size() == kept);
}

void typical_p(CandidateList& list, float p, size_t min_keep) {
  if (p >= 1.0f || list.size() <= 1) return;
  const size_t n = list.size();
  const float mx = max_logit(list);
  if (mx == -INFINITY) return;
  std::vector<double> prob(n);
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += prob[i] = std::exp(static_cast<double>(list.items[i].logit) - mx);
  double entropy = 0;
  for (double& q : prob) {
    q /= total;
    if (q > 0) entropy -= q * std::log(q);
  }
  // |-log q - H|: how far each token's surprise is from the expected surprise.
  std::vector<double> score(n);
  for (size_t i = 0; i < n; ++i) score[i] = prob[i] > 0 ? std::abs(-std::log(prob[i]) - entropy) : INFINITY;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (score[a] != score[b]) return score[a] < score[b];
    return ranks_before(list.items[a], list.items[b]);
  });
  const size_t min_n = std::min(keep_at_least(min_keep), n);
  size_t keep = n;
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += prob[order[i]];
    if (cum > p && i + 1 >= min_n) {
      keep = i + 1;
      break;
    }
  }
  std::vector<Candidate> out(keep);
  for (size_t i = 0; i < keep; ++i) out[i] = list.items[order[i]];
  list.items = std::move(out);
  list.sorted = 0;
  list.id_order = false;
}

Candidate argmax(const CandidateList& list) {
  QUARREL_ASSERT(!list.items.empty());
  if (list.sorted > 0) return list.items[0];
  // 4 independent scans (each keeps its first best: a strict >), then the best of the 4 by
  // rank order, which resolves ties to the lowest id whatever the list order.
  const Candidate* c = list.items.data();
  const size_t n = list.size();
  size_t best[4] = {0, std::min<size_t>(1, n - 1), std::min<size_t>(2, n - 1), std::min<size_t>(3, n - 1)};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (size_t j = 0; j < 4; ++j) best[j] = ranks_before(c[i + j], c[best[j]]) ? i + j : best[j];
  for (; i < n; ++i) best[0] = ranks_before(c[i], c[best[0]]) ? i : best[0];
  size_t b = best[0];
  for (size_t j = 1; j < 4; ++j) b = ranks_before(c[best[j]], c[b]) ? best[j] : b;
  return c[b];
}

size_t draw(const CandidateList& list, float temperature, double u) {
  QUARREL_ASSERT(!list.items.empty() && temperature > 0);
  const size_t n = list.size();
  const float mx = max_logit(list);
  if (mx == -INFINITY) return 0;  // every candidate banned: take the first
  const double total = exp_weights(list, mx, 1.0f / temperature, t_weights, t_block_sums);
  const float* w = t_weights.data();
  const double target = u * total;
  // Skip whole blocks by their sums, then walk the weights of the block the target falls in.
  double cum = 0;
  for (size_t b = 0; b < t_block_sums.size(); ++b) {
    const size_t begin = b * kBlock;
    if (t_block_sums[b] <= 0) continue;
    if (target >= cum + t_block_sums[b] && b + 1 < t_block_sums.size()) {
      cum += t_block_sums[b];
      continue;
    }
    const size_t end = std::min(n, begin + kBlock);
    for (size_t i = begin; i < end; ++i) {
      if (w[i] <= 0) continue;
      cum += w[i];
      if (target < cum) return i;
    }
  }
  // Rounding carried the target past the end: the last candidate with a nonzero weight.
  for (size_t i = n; i-- > 0;)
    if (w[i] > 0) return i;
  return 0;
}

double log_sum_exp(const CandidateList& list) {
  const float mx = max_logit(list);
  if (mx == -INFINITY) return -INFINITY;
  const double total = exp_weights(list, mx, 1.0f, t_weights, t_block_sums);
  return static_cast<double>(mx) + std::log(total);
}

}  // namespace quarrel::sampling
