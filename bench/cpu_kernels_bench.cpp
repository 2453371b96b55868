// CPU matmul kernels at Llama-3.2-1B shapes: GEMV (m = 1, decode) and GEMM (m = 128, prompt
// processing) on 2048x2048, 2048x8192, 8192x2048 and 2048x128256 weights ([k, n], GGUF order)
// for Q4_0, Q4_K, Q6_K, Q8_0 and F16, with the default pool (the physical cores).
//
// GEMV counters: GB/s = weight bytes read per second, bw% = that over the copy bandwidth
// (read + write, as bench/membw_bench measures it) measured just before the benchmark (the
// machine's bandwidth drifts with other tenants of the host), copyGB/s = that bandwidth. Each iteration reads a different copy of the
// matrix (copies totalling >= 256 MiB), so the weights come from memory as they do in decode.
// GEMM counters: GFLOP/s (2 k n m per product).
// Llama1B/...: every matmul of one Llama-3.2-1B forward (16 layers: q, k, v, o, gate, up, down;
// the 128256 x 2048 output for the last token only), for one decoded token (m = 1) and for a
// 128-token prompt; tok/s counts only these matmuls (no attention, norms, RoPE). Mixes: Q4_0,
// Q8_0 and F16 everywhere; Q4_K_M as llama.cpp makes it (Q6_K for the output and for attn_v and
// ffn_down on a third of the layers, Q4_K elsewhere).
// QUARREL_CPU=scalar|avx2|avx512 picks the kernel level.
// --threads N: pool size (default: the physical cores).
// --cpu-time: on a machine busy with other work, estimate the uncontended speed from the
// process CPU time (divided by the thread count) instead of the wall clock.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/cpu_info.h"
#include "backend/cpu/matmul.h"
#include "backend/cpu/membw.h"
#include "core/ggml_type.h"
#include "core/thread_pool.h"
#include "quant/quant.h"

namespace {

using namespace quarrel;
using namespace quarrel::cpu;

double g_copy_gbs = 0;
bool g_cpu_time = false;

// Seconds -> the rate counters' time base: wall clock, or process CPU time / threads.
double rate_scale();

benchmark::internal::Benchmark* timing(benchmark::internal::Benchmark* b) {
  return g_cpu_time ? b->MeasureProcessCPUTime() : b->UseRealTime();
}

int g_threads = 0;  // --threads N; 0: the physical cores

ThreadPool& pool() {
  static ThreadPool p(g_threads);
  return p;
}

double rate_scale() { return g_cpu_time ? pool().size() : 1.0; }

// Weights of a type: 64 rows quantized by the reference quantizer, tiled over all rows and
// over enough copies that one pass over them leaves the caches behind.
struct Weights {
  std::vector<uint8_t> data;
  size_t matrix_bytes = 0;
  int copies = 1;
};

Weights make_weights(GgmlType type, int64_t k, int64_t n, size_t min_total) {
  std::mt19937 rng(42);
  std::normal_distribution<float> nd(0, 1);
  const int64_t pattern_rows = 64;
  std::vector<float> f(static_cast<size_t>(k * pattern_rows));
  for (auto& v : f) v = nd(rng);
  const size_t rb = row_bytes(type, static_cast<uint64_t>(k));
  std::vector<uint8_t> pattern(rb * pattern_rows);
  for (int64_t r = 0; r < pattern_rows; ++r) quant::quantize_row(type, f.data() + r * k, pattern.data() + rb * r, k);
  Weights w;
  w.matrix_bytes = rb * static_cast<size_t>(n);
  w.copies = static_cast<int>(std::max<size_t>(1, (min_total + w.matrix_bytes - 1) / w.matrix_bytes));
  w.data.resize(w.matrix_bytes * w.copies);
  for (size_t off = 0; off < w.data.size(); off += pattern.size())
    std::memcpy(w.data.data() + off, pattern.data(), std::min(pattern.size(), w.data.size() - off));
  return w;
}

// The machine's memory bandwidth drifts (other tenants of the host): each GEMV's bw% is taken
// against a copy measured just before it (the better of that and the one at start-up).
double copy_gbs_now() {
  const CopyBandwidth bw = measure_copy_bandwidth(pool(), size_t{128} << 20, 3);
  return std::max(g_cpu_time ? bw.cpu_gb_per_s : bw.gb_per_s, 0.0);
}

void run(benchmark::State& state, GgmlType type, int64_t k, int64_t n, int64_t m) {
  const Weights w = make_weights(type, k, n, m == 1 ? size_t{256} << 20 : 0);
  const double copy_gbs = m == 1 ? copy_gbs_now() : g_copy_gbs;
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> x(static_cast<size_t>(k * m));
  for (auto& v : x) v = nd(rng);
  std::vector<float> y(static_cast<size_t>(n * m));
  int c = 0;
  for (auto _ : state) {
    const WeightMatrix wm{type, w.data.data() + w.matrix_bytes * c, k, n, 0};
    matmul(wm, x.data(), y.data(), m, pool());
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % w.copies;
  }
  const double it = static_cast<double>(state.iterations());
  if (m == 1) {
    state.counters["GB/s"] =
        benchmark::Counter(static_cast<double>(w.matrix_bytes) * it / 1e9 * rate_scale(), benchmark::Counter::kIsRate);
    state.counters["bw%"] = benchmark::Counter(
        static_cast<double>(w.matrix_bytes) * it / 1e9 / copy_gbs * 100 * rate_scale(), benchmark::Counter::kIsRate);
    state.counters["copyGB/s"] = copy_gbs;
  } else {
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * k * n * m * it / 1e9 * rate_scale(), benchmark::Counter::kIsRate);
  }
  state.SetLabel(std::string(type_name(type)));
}

// ---- whole-model matmul sweep ------------------------------------------------------------------

struct Llama1B {
  static constexpr int64_t kEmbd = 2048, kKv = 512, kFf = 8192, kVocab = 128256, kLayers = 16;
  struct Mat {
    GgmlType type;
    int64_t k, n;
    std::vector<uint8_t> data;
    WeightMatrix w() const { return {type, data.data(), k, n, 0}; }
  };
  std::vector<Mat> layers;  // 7 per layer: q k v o gate up down
  Mat output;
  size_t bytes = 0;

  static bool more_bits(int64_t i) {  // llama.cpp's use_more_bits(i, n)
    return i < kLayers / 8 || i >= 7 * kLayers / 8 || (i - kLayers / 8) % 3 == 2;
  }
  explicit Llama1B(const std::string& mix) {
    auto type_of = [&](int64_t layer, int which) {
      if (mix == "Q4_K_M") return (which == 2 || which == 6) && more_bits(layer) ? GgmlType::Q6_K : GgmlType::Q4_K;
      return *parse_type_name(mix);
    };
    auto make = [&](GgmlType t, int64_t k, int64_t n) {
      Weights w = make_weights(t, k, n, 0);
      bytes += w.matrix_bytes;
      return Mat{t, k, n, std::move(w.data)};
    };
    const int64_t shapes[7][2] = {{kEmbd, kEmbd}, {kEmbd, kKv}, {kEmbd, kKv}, {kEmbd, kEmbd},
                                  {kEmbd, kFf},   {kEmbd, kFf}, {kFf, kEmbd}};
    for (int64_t l = 0; l < kLayers; ++l)
      for (int j = 0; j < 7; ++j) layers.push_back(make(type_of(l, j), shapes[j][0], shapes[j][1]));
    output = make(mix == "Q4_K_M" ? GgmlType::Q6_K : *parse_type_name(mix), kEmbd, kVocab);
  }

  // The matmuls of one forward over m tokens (Q/K/V and gate/up each in one call).
  void forward(int64_t m, std::vector<float>& x, std::vector<float>& buf) const {
    buf.resize(static_cast<size_t>(kFf * m * 3));
    float* a = buf.data();             // q k v, then gate
    float* up = buf.data() + kFf * m;  // up
    float* b = up + kFf * m;           // attention output projection
    for (int64_t l = 0; l < kLayers; ++l) {
      const Mat* L = &layers[static_cast<size_t>(l * 7)];
      const MatmulOut qkv[3] = {{L[0].w(), a, 0}, {L[1].w(), a + kEmbd * m, 0}, {L[2].w(), a + (kEmbd + kKv) * m, 0}};
      matmul_multi(qkv, x.data(), kEmbd, m, pool());
      matmul(L[3].w(), a, b, m, pool());
      const MatmulOut gu[2] = {{L[4].w(), a, 0}, {L[5].w(), up, 0}};
      matmul_multi(gu, x.data(), kEmbd, m, pool());
      matmul(L[6].w(), a, x.data(), m, pool());
    }
    std::vector<float> logits(static_cast<size_t>(kVocab));
    matmul(output.w(), x.data() + (m - 1) * kEmbd, logits.data(), 1, pool());
    benchmark::DoNotOptimize(logits.data());
  }
};

void run_model(benchmark::State& state, const std::string& mix, int64_t m) {
  const Llama1B model(mix);
  std::mt19937 rng(3);
  std::normal_distribution<float> nd(0, 1);
  std::vector<float> x(static_cast<size_t>(Llama1B::kEmbd * m)), buf(static_cast<size_t>(Llama1B::kFf * m * 3));
  for (auto _ : state) {
    for (auto& v : x) v = nd(rng) * 0.01f;
    model.forward(m, x, buf);
  }
  state.counters["tok/s"] = benchmark::Counter(
      static_cast<double>(m) * static_cast<double>(state.iterations()) * rate_scale(), benchmark::Counter::kIsRate);
  if (m == 1) {
    state.counters["bw%"] = benchmark::Counter(static_cast<double>(model.bytes) * static_cast<double>(state.iterations()) /
                                                   1e9 / g_copy_gbs * 100 * rate_scale(),
                                               benchmark::Counter::kIsRate);
  }
  state.SetLabel(mix + ", " + std::to_string(model.bytes >> 20) + " MiB");
}

void register_all() {
  for (const char* mix : {"Q4_0", "Q4_K_M", "Q8_0", "F16"}) {
    for (int64_t m : {1, 128}) {
      const std::string name = std::string("Llama1B/") + (m == 1 ? "decode/" : "prompt128/") + mix;
      timing(benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run_model(st, mix, m); }))
          ->Unit(benchmark::kMillisecond)
          ->MinTime(2.0);
    }
  }
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16};
  const int64_t shapes[][2] = {{2048, 2048}, {2048, 8192}, {8192, 2048}, {2048, 128256}};
  for (int64_t m : {1, 128}) {
    for (GgmlType t : types) {
      for (const auto& s : shapes) {
        const std::string name = std::string(m == 1 ? "GEMV/" : "GEMM_m128/") + std::string(type_name(t)) + "/" +
                                 std::to_string(s[0]) + "x" + std::to_string(s[1]);
        timing(benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, t, s[0], s[1], m); }))
            ->Unit(benchmark::kMillisecond)
            ->MinTime(m == 1 ? 0.5 : 1.0);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc;) {
    const std::string a = argv[i];
    int used = 0;
    if (a == "--cpu-time") {
      g_cpu_time = true;
      used = 1;
    } else if (a == "--threads" && i + 1 < argc) {
      g_threads = std::atoi(argv[i + 1]);
      used = 2;
    }
    if (used == 0) {
      ++i;
      continue;
    }
    for (int j = i; j + used < argc; ++j) argv[j] = argv[j + used];
    argc -= used;
  }
  benchmark::Initialize(&argc, argv);
  const CopyBandwidth bw = measure_copy_bandwidth(pool());
  g_copy_gbs = g_cpu_time ? bw.cpu_gb_per_s : bw.gb_per_s;
  std::printf("%s\nthreads: %d; copy bandwidth: %.1f GB/s (read + write); timing: %s\n", cpu_info_summary().c_str(),
              pool().size(), g_copy_gbs, g_cpu_time ? "process CPU time / threads" : "wall clock");
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
