// CPU matmul kernels at Llama-3.2-1B shapes: GEMV (m = 1, decode) and GEMM (m = 128, prompt
// processing) on 2048x2048, 2048x8192, 8192x2048 and 2048x128256 weights ([k, n], GGUF order)
// for Q4_0, Q4_K, Q6_K, Q8_0 and F16, with the default pool (the physical cores).
//
// GEMV counters: GB/s = weight bytes read per second, bw% = that over the measured copy
// bandwidth (read + write, bench/membw_bench). Each iteration reads a different copy of the
// matrix (copies totalling >= 256 MiB), so the weights come from memory as they do in decode.
// GEMM counters: GFLOP/s (2 k n m per product).
// QUARREL_CPU=scalar|avx2|avx512 picks the kernel level.
#include <benchmark/benchmark.h>

#include <cstdio>
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

ThreadPool& pool() {
  static ThreadPool p;
  return p;
}

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

void run(benchmark::State& state, GgmlType type, int64_t k, int64_t n, int64_t m) {
  const Weights w = make_weights(type, k, n, m == 1 ? size_t{256} << 20 : 0);
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
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(w.matrix_bytes) * it / 1e9, benchmark::Counter::kIsRate);
    state.counters["bw%"] =
        benchmark::Counter(static_cast<double>(w.matrix_bytes) * it / 1e9 / g_copy_gbs * 100, benchmark::Counter::kIsRate);
  } else {
    state.counters["GFLOP/s"] = benchmark::Counter(2.0 * k * n * m * it / 1e9, benchmark::Counter::kIsRate);
  }
  state.SetLabel(std::string(type_name(type)));
}

void register_all() {
  const GgmlType types[] = {GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q8_0, GgmlType::F16};
  const int64_t shapes[][2] = {{2048, 2048}, {2048, 8192}, {8192, 2048}, {2048, 128256}};
  for (int64_t m : {1, 128}) {
    for (GgmlType t : types) {
      for (const auto& s : shapes) {
        const std::string name = std::string(m == 1 ? "GEMV/" : "GEMM_m128/") + std::string(type_name(t)) + "/" +
                                 std::to_string(s[0]) + "x" + std::to_string(s[1]);
        benchmark::RegisterBenchmark(name.c_str(), [=](benchmark::State& st) { run(st, t, s[0], s[1], m); })
            ->UseRealTime()
            ->Unit(benchmark::kMillisecond)
            ->MinTime(m == 1 ? 0.5 : 1.0);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  g_copy_gbs = measure_copy_bandwidth(pool()).gb_per_s;
  std::printf("%s\nthreads: %d; copy bandwidth: %.1f GB/s (read + write)\n", cpu_info_summary().c_str(), pool().size(),
              g_copy_gbs);
  register_all();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
