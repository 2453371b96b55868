// The sampler chain over a 128k-vocabulary logits vector (Llama 3's 128256), per token.
// The default chain (top-k 40 first, a partial sort) should stay well under 1 ms.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "sampling/sampler.h"

namespace {

using quarrel::sampling::CandidateList;
using quarrel::sampling::Sampler;
using quarrel::sampling::SamplingParams;

constexpr int32_t kVocab = 128256;

// Model-like logits: a broad normal body and a handful of clear favourites.
const std::vector<float>& logits() {
  static const std::vector<float> l = [] {
    std::mt19937_64 rng(1);
    std::normal_distribution<float> body(0.0f, 2.5f);
    std::vector<float> v(kVocab);
    for (float& x : v) x = body(rng);
    std::uniform_int_distribution<int32_t> pick(0, kVocab - 1);
    for (int i = 0; i < 8; ++i) v[pick(rng)] = 14.0f + static_cast<float>(i);
    return v;
  }();
  return l;
}

void run(benchmark::State& state, SamplingParams p) {
  p.seed = 42;
  Sampler s(p, kVocab);
  for (int i = 0; i < p.repeat_last_n; ++i) s.accept(i * 997 % kVocab);
  CandidateList scratch;
  const auto& l = logits();
  for (auto _ : state) {
    auto r = s.sample(l, scratch);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_DefaultChain(benchmark::State& state) { run(state, SamplingParams{}); }

void BM_DefaultChainWithPenalties(benchmark::State& state) {
  SamplingParams p;
  p.repeat_penalty = 1.1f;
  p.frequency_penalty = 0.2f;
  p.presence_penalty = 0.2f;
  run(state, p);
}

void BM_DefaultChainWithTopLogprobs(benchmark::State& state) {
  SamplingParams p;
  p.logprobs = true;
  p.top_logprobs = 20;
  run(state, p);
}

void BM_Greedy(benchmark::State& state) {
  SamplingParams p;
  p.temperature = 0.0f;
  run(state, p);
}

void BM_TopPWithoutTopK(benchmark::State& state) {
  SamplingParams p;
  p.top_k = 0;
  run(state, p);
}

void BM_FullVocabularyDraw(benchmark::State& state) {
  SamplingParams p;
  p.top_k = 0;
  p.top_p = 1.0f;
  p.min_p = 0.0f;
  run(state, p);
}

}  // namespace

BENCHMARK(BM_DefaultChain)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DefaultChainWithPenalties)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_DefaultChainWithTopLogprobs)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Greedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopPWithoutTopK)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_FullVocabularyDraw)->Unit(benchmark::kMicrosecond);
BENCHMARK_MAIN();
