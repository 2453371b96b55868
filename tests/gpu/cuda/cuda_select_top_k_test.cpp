// select_top_k.cu (sampling candidates on the device, one stage or two) against the host reference
// backend::select_candidates, exactly (ids and logits), on fresh random rows: vocabularies from
// 100 to Llama 3's 128256, k from 1 to the whole row, many ties, NaN, infinities, -0 and +0,
// rows where the ties at the k-th key outnumber the places left. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/backend.h"
#include "backend/cuda/kernels.h"
#include "backend/rank_key.h"
#include "common/random.h"
#include "tests/gpu/cuda/gpu_test_util.h"

namespace quarrel::cuda {
namespace {

using backend::TokenLogit;

std::vector<float> random_rows(std::mt19937_64& rng, int64_t n, int64_t rows, int style) {
  std::vector<float> v(static_cast<size_t>(n * rows));
  std::normal_distribution<float> g(0.0f, 4.0f);
  for (float& x : v) {
    x = g(rng);
    if (style == 1) x = std::round(x);         // many ties everywhere
    if (style == 2) x = std::round(x) * 0.0f;  // only +0 and -0 (and a few below)
    if (style == 3) x = 1.5f;                  // one value: ties decide everything
  }
  if (style >= 1) {
    for (int i = 0; i < 16; ++i) v[rng() % v.size()] = NAN;
    for (int i = 0; i < 4; ++i) v[rng() % v.size()] = INFINITY;
    for (int i = 0; i < 4; ++i) v[rng() % v.size()] = -INFINITY;
    v[rng() % v.size()] = 3.4028235e38f;  // ties with +infinity
  }
  return v;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

TEST(CudaSelectTopK, EqualsTheHostSelection) {
  QUARREL_SKIP_WITHOUT_GPU();
  const uint64_t seed = test::test_seed();
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);
  struct Shape {
    int64_t n, rows;
  };
  // 4097 and 8200: a last slice of 1 and of 8 tokens (fewer than k).
  for (const Shape sh : {Shape{100, 1}, Shape{512, 3}, Shape{1000, 2}, Shape{4097, 2}, Shape{8200, 1}, Shape{32000, 1},
                         Shape{128256, 4}, Shape{151936, 1}}) {
    for (int style = 0; style < 4; ++style) {
      const auto logits = random_rows(rng, sh.n, sh.rows, style);
      const auto d_logits = test::to_device(logits);
      for (int k : {1, 2, 40, 1000, 1024, 1025, 5000, static_cast<int>(sh.n)}) {
        if (k > sh.n) continue;
        auto ids = test::poisoned(static_cast<size_t>(k * sh.rows) * 4);
        auto vals = test::poisoned(static_cast<size_t>(k * sh.rows) * 4);
        auto scratch = test::poisoned(select_top_k_scratch_bytes(sh.n, sh.rows, k));
        select_top_k(d_logits.get<float>(), sh.n, sh.rows, k, ids.get<int32_t>(), vals.get<float>(), scratch.get(), nullptr);
        const auto got_ids = test::to_host<int32_t>(ids, static_cast<size_t>(k * sh.rows));
        const auto got_vals = test::to_host<float>(vals, static_cast<size_t>(k * sh.rows));
        for (int64_t r = 0; r < sh.rows; ++r) {
          backend::RowCandidates want;
          const std::span<const float> row(logits.data() + r * sh.n, static_cast<size_t>(sh.n));
          backend::select_candidates(row, {.k = k, .ids = {}}, want);
          std::vector<TokenLogit> got;
          for (int i = 0; i < k; ++i) got.push_back({got_ids[r * k + i], got_vals[r * k + i]});
          std::sort(got.begin(), got.end(), [](const TokenLogit& a, const TokenLogit& b) {
            const uint32_t ka = backend::logit_rank_key(a.logit), kb = backend::logit_rank_key(b.logit);
            return ka > kb || (ka == kb && a.id < b.id);
          });
          ASSERT_EQ(got.size(), want.best.size());
          for (size_t i = 0; i < got.size(); ++i) {
            ASSERT_EQ(got[i].id, want.best[i].id) << "n " << sh.n << " row " << r << " style " << style << " k " << k << " i " << i;
            ASSERT_TRUE(same_bits(got[i].logit, want.best[i].logit)) << got[i].logit << " vs " << want.best[i].logit;
          }
        }
      }
    }
  }
}

TEST(CudaSelectTopK, GathersNamedLogits) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  const int64_t n = 1000, rows = 3;
  const auto logits = random_rows(rng, n, rows, 1);
  const std::vector<int32_t> row_of = {0, 2, 2, 1, 0}, ids = {0, 999, 5, 5, 17};
  const auto d_logits = test::to_device(logits), d_rows = test::to_device(row_of), d_ids = test::to_device(ids);
  auto out = test::poisoned(ids.size() * 4);
  gather_logits(d_logits.get<float>(), n, d_rows.get<int32_t>(), d_ids.get<int32_t>(), 5, out.get<float>(), nullptr);
  const auto got = test::to_host<float>(out, ids.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(same_bits(got[i], logits[static_cast<size_t>(row_of[i] * n + ids[i])]));
}

}  // namespace
}  // namespace quarrel::cuda
