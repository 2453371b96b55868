// The whole CPU forward pass (src/backend/cpu_backend) on a synthetic random-weight model:
// prompt processing (one batch of N tokens) and decode (one token per step, alone or several
// sequences together), in tokens per second.
//
//   QUARREL_BENCH_MODEL=path.gguf        a model file to use instead of a synthetic one
//   QUARREL_BENCH_SHAPE=tiny|llama3-1b   the synthetic shape (default tiny: 4 layers, n_embd 512)
//   QUARREL_BENCH_TYPE=Q4_0|Q8_0|F16|Q4_K_M|...   weight type or mix (default Q4_0)
//   QUARREL_BENCH_THREADS=N              threads (default: the physical cores)
//   QUARREL_CPU=scalar|avx2|avx512       kernel level
// Synthetic models are written once to $TMPDIR/quarrel-forward-bench-SHAPE-TYPE.gguf and reused.
//
// Decode counters: GB/s = weight bytes read per token (Model::bytes_per_token) x tokens/s;
// bw% = that over the measured memory copy bandwidth (cpu::measure_copy_bandwidth, read +
// write), the share of the bandwidth bound.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>

#include "backend/cpu/membw.h"
#include "backend/cpu_backend.h"
#include "core/ggml_type.h"
#include "model/model.h"
#include "model/synthetic.h"

namespace {

using namespace quarrel;

constexpr int32_t kBlock = 16;
constexpr int32_t kCtx = 512;     // per sequence
constexpr int32_t kMaxSeqs = 16;

std::string env_or(const char* name, const char* def) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != 0 ? v : def;
}

model::SyntheticSpec shape_spec(const std::string& shape) {
  model::SyntheticSpec s;
  if (shape == "llama3-1b") {  // Llama-3.2-1B
    s.arch = "llama";
    s.n_vocab = 128256;
    s.n_embd = 2048;
    s.n_layer = 16;
    s.n_head = 32;
    s.n_head_kv = 8;
    s.n_ff = 8192;
    s.n_ctx = 131072;
    s.rope_freq_base = 500000.0f;
    s.rope_freqs = true;
    s.tied_embeddings = true;
  } else if (shape == "tiny") {
    s.n_vocab = 4096;
    s.n_embd = 512;
    s.n_layer = 4;
    s.n_head = 8;
    s.n_head_kv = 4;
    s.n_ff = 1536;
  } else {
    std::fprintf(stderr, "QUARREL_BENCH_SHAPE: unknown shape '%s' (tiny, llama3-1b)\n", shape.c_str());
    std::exit(2);
  }
  return s;
}

std::string model_path() {
  const std::string given = env_or("QUARREL_BENCH_MODEL", "");
  if (!given.empty()) return given;
  const std::string shape = env_or("QUARREL_BENCH_SHAPE", "tiny");
  const std::string type = env_or("QUARREL_BENCH_TYPE", "Q4_0");
  const auto path = std::filesystem::temp_directory_path() / ("quarrel-forward-bench-" + shape + "-" + type + ".gguf");
  if (!std::filesystem::exists(path)) {
    model::SyntheticSpec spec = shape_spec(shape);
    if (const auto t = parse_type_name(type)) {
      spec.type = *t;
    } else {
      spec.mix = type;  // Q4_K_M and the other mixes
    }
    std::fprintf(stderr, "writing %s ...\n", path.c_str());
    model::write_synthetic_model(spec, path.string());
  }
  return path.string();
}

struct Fixture {
  std::shared_ptr<const model::Model> model;
  std::unique_ptr<backend::CpuBackend> be;
  double copy_gb_s = 0;
};

Fixture& fixture() {
  static Fixture f = [] {
    Fixture x;
    x.model = model::Model::load(model_path());
    x.be = std::make_unique<backend::CpuBackend>(
        backend::CpuBackendOptions{.n_threads = std::atoi(env_or("QUARREL_BENCH_THREADS", "0").c_str())});
    x.be->load(x.model, {.n_blocks = kMaxSeqs * kCtx / kBlock, .block_size = kBlock});
    x.copy_gb_s = cpu::measure_copy_bandwidth(x.be->pool()).gb_per_s;
    return x;
  }();
  return f;
}

// Sequence s owns blocks [s * kCtx / kBlock, (s + 1) * kCtx / kBlock).
std::vector<int32_t> table_of(int s) {
  std::vector<int32_t> t(kCtx / kBlock);
  std::iota(t.begin(), t.end(), s * (kCtx / kBlock));
  return t;
}

int32_t token_at(int64_t i, int64_t n_vocab) { return static_cast<int32_t>((i * 7919 + 13) % n_vocab); }

// One batch of N prompt tokens at positions [0, N), logits for the last.
void BM_Prompt(benchmark::State& state) {
  Fixture& f = fixture();
  const auto n = static_cast<int32_t>(state.range(0));
  const auto table = table_of(0);
  backend::Batch batch;
  batch.set_sequence(0, table, n);
  for (int32_t p = 0; p < n; ++p) batch.add_token(token_at(p, f.model->hparams().n_vocab), p, 0, table[p / kBlock] * kBlock + p % kBlock, p == n - 1);
  backend::Logits logits;
  for (auto _ : state) f.be->forward(batch, logits);
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(n) * static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}

// S sequences each decoding one token per step after a 128-token prompt, positions advancing
// (wrapping back to 128 before the context is full).
void BM_Decode(benchmark::State& state) {
  Fixture& f = fixture();
  const auto n_seq = static_cast<int>(state.range(0));
  const int64_t n_vocab = f.model->hparams().n_vocab;
  constexpr int32_t kPrompt = 128;
  std::vector<std::vector<int32_t>> tables;
  backend::Batch batch;
  backend::Logits logits;
  for (int s = 0; s < n_seq; ++s) {
    tables.push_back(table_of(s));
    batch.clear();
    batch.set_sequence(s, tables.back(), kPrompt);
    for (int32_t p = 0; p < kPrompt; ++p) batch.add_token(token_at(p + s, n_vocab), p, s, tables.back()[p / kBlock] * kBlock + p % kBlock, p == kPrompt - 1);
    f.be->forward(batch, logits);
  }
  int32_t pos = kPrompt;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    batch.clear();
    for (int s = 0; s < n_seq; ++s) {
      const auto& t = tables[static_cast<size_t>(s)];
      batch.set_sequence(s, t, pos + 1);
      batch.add_token(token_at(pos + s, n_vocab), pos, s, t[pos / kBlock] * kBlock + pos % kBlock, true);
    }
    f.be->forward(batch, logits);
    pos = pos + 1 < kCtx ? pos + 1 : kPrompt;
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double steps = static_cast<double>(state.iterations());
  // Each step reads the weights once, whatever the number of sequences.
  const double weight_gb_s = steps * static_cast<double>(f.model->bytes_per_token()) / 1e9 / seconds;
  state.counters["tok/s"] = steps * n_seq / seconds;
  state.counters["GB/s"] = weight_gb_s;
  state.counters["bw%"] = 100.0 * weight_gb_s / f.copy_gb_s;
}

BENCHMARK(BM_Prompt)->Arg(16)->Arg(128)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Decode)->Arg(1)->Arg(4)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
