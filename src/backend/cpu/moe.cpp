#include "backend/cpu/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "backend/cpu/ops.h"
#include "core/error.h"

namespace quarrel::cpu {

void moe_route(const float* logits, int64_t n_expert, int64_t k, bool normalize, int32_t* ids, float* weights) {
  QUARREL_ASSERT(k >= 1 && k <= n_expert);
  // Softmax over all experts (float64 sums: the weights do not depend on the order).
  float mx = logits[0];
  for (int64_t i = 1; i < n_expert; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int64_t i = 0; i < n_expert; ++i) sum += std::exp(static_cast<double>(logits[i] - mx));
  // Top k by logit (the softmax is monotonic), lower index first on ties; NaN logits sort last.
  std::vector<int32_t> order(static_cast<size_t>(n_expert));
  std::iota(order.begin(), order.end(), 0);
  auto better = [logits](int32_t a, int32_t b) {
    const float la = logits[a], lb = logits[b];
    const bool na = std::isnan(la), nb = std::isnan(lb);
    if (na != nb) return nb;  // numbers before NaNs
    if (na) return a < b;
    return la > lb || (la == lb && a < b);
  };
  std::partial_sort(order.begin(), order.begin() + k, order.end(), better);
  double chosen = 0;
  for (int64_t j = 0; j < k; ++j) {
    ids[j] = order[static_cast<size_t>(j)];
    const double p = std::exp(static_cast<double>(logits[ids[j]] - mx)) / sum;
    weights[j] = static_cast<float>(p);
    chosen += p;
  }
  if (normalize && chosen > 0) {
    for (int64_t j = 0; j < k; ++j) weights[j] = static_cast<float>(static_cast<double>(weights[j]) / chosen);
  }
}

void moe_ffn(const MoeWeights& w, const float* x, float* y, int64_t n, MoeScratch& s, ThreadPool& pool) {
  const int64_t n_embd = w.router.k, n_ff = w.gate.first.n, k = w.n_used;
  const auto nz = static_cast<size_t>(n);
  s.logits.resize(static_cast<size_t>(w.n_expert) * nz);
  s.ids.resize(static_cast<size_t>(k) * nz);
  s.weights.resize(static_cast<size_t>(k) * nz);
  matmul(w.router, x, s.logits.data(), n, pool);
  for (int64_t t = 0; t < n; ++t) {
    moe_route(s.logits.data() + t * w.n_expert, w.n_expert, k, w.normalize, s.ids.data() + t * k,
              s.weights.data() + t * k);
  }
  std::fill_n(y, static_cast<size_t>(n_embd) * nz, 0.0f);
  for (int64_t e = 0; e < w.n_expert; ++e) {
    s.tokens.clear();
    s.token_weights.clear();
    for (int64_t t = 0; t < n; ++t) {
      for (int64_t j = 0; j < k; ++j) {
        if (s.ids[static_cast<size_t>(t * k + j)] != e) continue;
        s.tokens.push_back(static_cast<int32_t>(t));
        s.token_weights.push_back(s.weights[static_cast<size_t>(t * k + j)]);
      }
    }
    const auto m = static_cast<int64_t>(s.tokens.size());
    if (m == 0) continue;
    const auto mz = static_cast<size_t>(m);
    s.xe.resize(static_cast<size_t>(n_embd) * mz);
    s.gate.resize(static_cast<size_t>(n_ff) * mz);
    s.up.resize(static_cast<size_t>(n_ff) * mz);
    s.ye.resize(static_cast<size_t>(n_embd) * mz);
    for (size_t j = 0; j < mz; ++j) {
      std::copy_n(x + static_cast<int64_t>(s.tokens[j]) * n_embd, n_embd, s.xe.data() + j * static_cast<size_t>(n_embd));
    }
    const MatmulOut gate_up[2] = {{w.gate.expert(e), s.gate.data(), 0}, {w.up.expert(e), s.up.data(), 0}};
    matmul_multi(gate_up, s.xe.data(), n_embd, m, pool);
    if (w.gelu) {
      geglu(s.gate.data(), s.up.data(), s.gate.data(), n_ff * m);
    } else {
      swiglu(s.gate.data(), s.up.data(), s.gate.data(), n_ff * m);
    }
    matmul(w.down.expert(e), s.gate.data(), s.ye.data(), m, pool);
    for (size_t j = 0; j < mz; ++j) {
      float* yt = y + static_cast<int64_t>(s.tokens[j]) * n_embd;
      const float* ye = s.ye.data() + j * static_cast<size_t>(n_embd);
      const float wj = s.token_weights[j];
      for (int64_t i = 0; i < n_embd; ++i) yt[i] += wj * ye[i];
    }
  }
}

}  // namespace quarrel::cpu
