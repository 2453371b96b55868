#pragma once
// Shared pieces of the engine tests: a tiny random Llama model written once per test binary
// (model::write_synthetic_model), engines on the real CPU backend, and collecting a request's
// events.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <random>
#include <vector>

#include "backend/cpu_backend.h"
#include "common/random.h"
#include "common/test_data.h"
#include "model/model.h"
#include "model/synthetic.h"
#include "runtime/engine.h"

namespace quarrel::runtime::test_support {

inline constexpr int64_t kTinyVocab = 320;

// llama, 2 layers, n_embd 64, 4 heads / 2 KV heads (GQA), F32 weights.
inline std::shared_ptr<const model::Model> tiny_model() {
  static std::shared_ptr<const model::Model> m = [] {
    const auto dir = quarrel::test::temp_dir("qrt_model");
    const std::string path = (dir / "tiny.gguf").string();
    model::SyntheticSpec spec;
    spec.n_vocab = kTinyVocab;
    spec.n_embd = 64;
    spec.n_layer = 2;
    spec.n_head = 4;
    spec.n_head_kv = 2;
    spec.n_ff = 128;
    spec.n_ctx = 1024;
    spec.seed = 7;
    model::write_synthetic_model(spec, path);
    auto loaded = model::Model::load(path);
    std::filesystem::remove_all(dir);  // the mapping stays valid
    return loaded;
  }();
  return m;
}

inline std::unique_ptr<Engine> tiny_engine(EngineConfig cfg, int32_t n_blocks, int32_t block_size = 16) {
  auto be = std::make_unique<backend::CpuBackend>(backend::CpuBackendOptions{.n_threads = 1});
  be->load(tiny_model(), {.n_blocks = n_blocks, .block_size = block_size, .type = GgmlType::F32});
  return std::make_unique<Engine>(std::move(be), std::nullopt, cfg);
}

inline std::vector<TokenId> random_prompt(std::mt19937_64& rng, size_t n) {
  std::uniform_int_distribution<TokenId> d(0, static_cast<TokenId>(kTinyVocab - 1));
  std::vector<TokenId> p(n);
  for (auto& t : p) t = d(rng);
  return p;
}

inline sampling::SamplingParams greedy() {
  sampling::SamplingParams p;
  p.temperature = 0;
  return p;
}

struct Collected {
  std::vector<TokenId> tokens;
  std::string text;
  std::vector<TokenEvent> events;
  TokenEvent final;
};

// Takes every event of a handle (blocking) until the final one.
inline Collected collect(RequestHandle& h) {
  Collected c;
  TokenEvent ev;
  while (h.next(ev)) {
    c.text += ev.text;
    if (ev.final) {
      c.final = ev;
      break;
    }
    c.tokens.push_back(ev.token);
    c.events.push_back(ev);
  }
  return c;
}

}  // namespace quarrel::runtime::test_support
