// Continuous batching must not change what a request generates: N requests decoded together
// (with chunked prefill, preemption and recompute, prefix-cache hits) give the tokens each
// gives alone, and alone equals the backend's own single-sequence greedy loop.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/generate.h"
#include "engine_fixture.h"

namespace quarrel::runtime {
namespace {
using namespace test_support;

struct Case {
  std::vector<TokenId> prompt;
  int32_t max_tokens;
  sampling::SamplingParams sampling;
};

std::vector<Case> make_cases(uint64_t seed, bool sampled) {
  std::mt19937_64 rng(seed);
  std::vector<Case> cases;
  for (size_t len : {1, 5, 17, 33, 40, 64, 3, 90}) {
    Case c{random_prompt(rng, len), 20 + static_cast<int32_t>(len % 7), greedy()};
    if (sampled) {
      c.sampling.temperature = 0.9f;
      c.sampling.seed = rng();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

Request to_request(const Case& c) {
  Request r;
  r.prompt = c.prompt;
  r.max_tokens = c.max_tokens;
  r.sampling = c.sampling;
  return r;
}

// Each case alone, in its own engine (nothing shared, no prefix cache).
std::vector<std::vector<TokenId>> alone(const std::vector<Case>& cases) {
  std::vector<std::vector<TokenId>> out;
  for (const Case& c : cases) {
    auto e = tiny_engine({.max_running = 1, .prefix_caching = false}, 16);
    auto h = e->submit(to_request(c));
    e->run_until_idle();
    Collected got = collect(*h);
    EXPECT_EQ(got.final.reason, StopReason::kLength);
    out.push_back(got.tokens);
  }
  return out;
}

std::vector<std::vector<TokenId>> together(const std::vector<Case>& cases, EngineConfig cfg, int32_t n_blocks,
                                           EngineStats* stats = nullptr) {
  auto e = tiny_engine(cfg, n_blocks);
  e->start();
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (const Case& c : cases) handles.push_back(e->submit(to_request(c)));
  std::vector<std::vector<TokenId>> out;
  for (auto& h : handles) {
    Collected got = collect(*h);
    EXPECT_EQ(got.final.reason, StopReason::kLength) << got.final.error;
    EXPECT_EQ(got.final.usage.generated_tokens, static_cast<int32_t>(got.tokens.size()));
    out.push_back(got.tokens);
  }
  e->stop();
  if (stats) *stats = e->stats();
  EXPECT_EQ(e->stats().kv_blocks_used, 0);
  return out;
}

TEST(EngineBatching, AloneEqualsTheBackendGreedyLoop) {
  const auto cases = make_cases(test::test_seed(), false);
  const auto ref = alone(cases);
  for (size_t i = 0; i < cases.size(); ++i) {
    backend::CpuBackend be({.n_threads = 1});
    be.load(tiny_model(), {.n_blocks = 16, .block_size = 16, .type = GgmlType::F32});
    const auto g = backend::generate_greedy(be, cases[i].prompt, cases[i].max_tokens);
    EXPECT_EQ(ref[i], g.tokens) << "case " << i;
  }
}

TEST(EngineBatching, ConcurrentGreedyEqualsEachAlone) {
  const auto cases = make_cases(test::test_seed(), false);
  const auto ref = alone(cases);
  EngineStats st;
  const auto got = together(cases, {.max_running = 8, .max_batch_tokens = 512}, 128, &st);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "case " << i;
  EXPECT_EQ(st.requests_finished, cases.size());
  EXPECT_EQ(st.preemptions, 0u);
}

TEST(EngineBatching, ConcurrentSeededSamplingEqualsEachAlone) {
  const auto cases = make_cases(test::test_seed(), true);
  const auto ref = alone(cases);
  const auto got = together(cases, {.max_running = 8, .max_batch_tokens = 512}, 128);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "case " << i;
}

TEST(EngineBatching, ChunkedPrefillGivesTheSameTokens) {
  const auto cases = make_cases(test::test_seed(), false);
  const auto ref = alone(cases);
  const auto got = together(cases, {.max_running = 3, .max_batch_tokens = 7}, 128);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "case " << i;
}

TEST(EngineBatching, PreemptionAndRecomputeGiveTheSameTokens) {
  // Eight prompts of 15 tokens growing by 24: 3 blocks of 16 each at the end, 24 in all, from a
  // pool of 10. Five are admitted (one block each plus the spare rule), all of them need a
  // second block after two tokens and a third after eighteen: the pool runs dry and sequences
  // are preempted, recomputed and resumed, some more than once.
  std::mt19937_64 rng(test::test_seed());
  std::vector<Case> cases;
  for (int i = 0; i < 8; ++i) cases.push_back({random_prompt(rng, 15), 24, greedy()});
  cases[3].sampling.temperature = 0.7f;  // a seeded sampler must resume where it was, too
  cases[3].sampling.seed = 99;
  const auto ref = alone(cases);
  EngineStats st;
  const auto got = together(cases, {.n_ctx = 64, .max_running = 8, .max_batch_tokens = 64}, 10, &st);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(got[i], ref[i]) << "case " << i;
  EXPECT_GT(st.preemptions, 0u);
}

TEST(EngineBatching, SharedPrefixesHitTheCacheAndGiveTheSameTokens) {
  std::mt19937_64 rng(test::test_seed());
  const auto common = random_prompt(rng, 48);
  std::vector<Case> cases;
  for (size_t i = 0; i < 5; ++i) {
    Case c{common, 12, greedy()};
    const auto tail = random_prompt(rng, 1 + i * 3);
    c.prompt.insert(c.prompt.end(), tail.begin(), tail.end());
    cases.push_back(c);
  }
  const auto ref = alone(cases);
  auto e = tiny_engine({.max_running = 2}, 64);
  e->start();
  // The first request alone fills the cache; the others then find the common 48 tokens.
  Collected first = collect(*e->submit(to_request(cases[0])));
  EXPECT_EQ(first.tokens, ref[0]);
  EXPECT_EQ(first.final.usage.cached_prompt_tokens, 0);
  std::vector<std::shared_ptr<RequestHandle>> handles;
  for (size_t i = 1; i < cases.size(); ++i) handles.push_back(e->submit(to_request(cases[i])));
  for (size_t i = 1; i < cases.size(); ++i) {
    Collected got = collect(*handles[i - 1]);
    EXPECT_EQ(got.tokens, ref[i]) << "case " << i;
    EXPECT_EQ(got.final.usage.cached_prompt_tokens, 48) << "case " << i;
    EXPECT_EQ(got.final.usage.prompt_tokens, static_cast<int32_t>(cases[i].prompt.size()));
  }
  e->stop();
  EXPECT_GT(e->stats().cached_prompt_tokens, 0u);
}



// The CPU backend, counting the steps served from candidates.
class CountingBackend final : public backend::Backend {
 public:
  explicit CountingBackend(std::shared_ptr<int> count) : count_(std::move(count)) {
    inner_.load(tiny_model(), {.n_blocks = 128, .block_size = 16, .type = GgmlType::F32});
  }
  std::string_view name() const override { return "counting-cpu"; }
  backend::Capabilities capabilities() const override { return inner_.capabilities(); }
  void load(std::shared_ptr<const model::Model>, const backend::KvCacheConfig&) override {}
  const model::Model& model() const override { return inner_.model(); }
  const backend::KvCacheConfig& kv_config() const override { return inner_.kv_config(); }
  uint64_t kv_bytes() const override { return inner_.kv_bytes(); }
  void forward(const backend::Batch& b, backend::Logits& out) override { inner_.forward(b, out); }
  void forward_candidates(const backend::Batch& b, std::span<const backend::CandidateRequest> req,
                          backend::Candidates& out) override {
    ++*count_;
    Backend::forward_candidates(b, req, out);
  }
  void copy_blocks(std::span<const kv::BlockCopy> c) override { inner_.copy_blocks(c); }

 private:
  backend::CpuBackend inner_{{.n_threads = 1}};
  std::shared_ptr<int> count_;
};

// Sampling from the backend's candidates gives the tokens whole rows give: seeded sampling with
// top-k, penalties both ways, logit bias (a ban among them), greedy; one request asks for
// logprobs, so the steps it is in fall back to whole rows.
TEST(EngineBatching, SamplingFromCandidatesEqualsWholeRows) {
  auto cases = make_cases(test::test_seed(), true);
  for (size_t i = 0; i < cases.size(); ++i) {
    auto& p = cases[i].sampling;
    p.top_k = 1 + static_cast<int32_t>(i * 7 % 50);
    if (i % 2) {
      p.repeat_penalty = 1.3f;
      p.frequency_penalty = i % 4 == 1 ? 0.4f : -0.4f;
    }
    if (i % 3 == 0) p.logit_bias = {{5, 4.0f}, {9, -INFINITY}};
    if (i == 4) p.temperature = 0.0f;
  }
  auto run = [&](EngineConfig::CandidateSampling mode, int* steps) {
    auto count = std::make_shared<int>(0);
    EngineConfig cfg{.max_running = 8, .max_batch_tokens = 512};
    cfg.candidate_sampling = mode;
    auto e = std::make_unique<Engine>(std::make_unique<CountingBackend>(count), std::nullopt, cfg);
    std::vector<std::shared_ptr<RequestHandle>> handles;
    for (const Case& c : cases) handles.push_back(e->submit(to_request(c)));
    e->run_until_idle();
    std::vector<std::vector<TokenId>> out;
    for (auto& h : handles) out.push_back(collect(*h).tokens);
    *steps = *count;
    return out;
  };
  int steps_whole = 0, steps_cand = 0;
  const auto whole = run(EngineConfig::CandidateSampling::kNever, &steps_whole);
  const auto cand = run(EngineConfig::CandidateSampling::kAlways, &steps_cand);
  EXPECT_EQ(steps_whole, 0);
  EXPECT_GT(steps_cand, 10);
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(cand[i], whole[i]) << "case " << i;
    EXPECT_EQ(cand[i].size(), static_cast<size_t>(cases[i].max_tokens));
  }

  // With one request that needs whole rows (logprobs) running, its steps use whole rows.
  cases[2].sampling.logprobs = true;
  int steps_mixed = 0;
  const auto mixed = run(EngineConfig::CandidateSampling::kAlways, &steps_mixed);
  EXPECT_LT(steps_mixed, steps_cand);
  for (size_t i = 0; i < cases.size(); ++i) EXPECT_EQ(mixed[i], whole[i]) << "case " << i;
}

}  // namespace
}  // namespace quarrel::runtime
