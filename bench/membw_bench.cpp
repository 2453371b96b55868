// The machine's memory copy bandwidth (memcpy of 512 MiB buffers split over the threads), the
// yardstick of the bandwidth-bound decode speed. Counters: GB/s = (read + written) bytes / s.
// Usage: membw_bench [--threads N is the benchmark argument] [benchmark flags]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "backend/cpu/membw.h"
#include "core/thread_pool.h"

namespace {

using namespace quarrel;

void BM_Copy(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const size_t bytes = static_cast<size_t>(state.range(1)) << 20;
  ThreadPool pool(threads);
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> src(static_cast<char*>(std::aligned_alloc(4096, bytes)));
  std::unique_ptr<char, Free> dst(static_cast<char*>(std::aligned_alloc(4096, bytes)));
  std::memset(src.get(), 1, bytes);
  std::memset(dst.get(), 2, bytes);
  for (auto _ : state) {
    pool.run_on_all([&](int t, int n) {
      const size_t b = bytes / n * t / 4096 * 4096, e = t + 1 == n ? bytes : bytes / n * (t + 1) / 4096 * 4096;
      std::memcpy(dst.get() + b, src.get() + b, e - b);
    });
    benchmark::ClobberMemory();
  }
  state.counters["GB/s"] = benchmark::Counter(2.0 * static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Copy)->ArgsProduct({{1, 2}, {512}})->ArgNames({"threads", "MiB"})->UseRealTime()->Unit(benchmark::kMillisecond);

// Read-only streaming (sum of 64-bit words), for comparison with the GEMV figures.
void BM_Read(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const size_t bytes = static_cast<size_t>(state.range(1)) << 20;
  ThreadPool pool(threads);
  std::vector<uint64_t> buf(bytes / 8, 1);
  for (auto _ : state) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    pool.run_on_all([&](int t, int n) {
      const size_t b = buf.size() / n * t, e = t + 1 == n ? buf.size() : buf.size() / n * (t + 1);
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = b; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[t] = s0 + s1 + s2 + s3;
    });
    benchmark::DoNotOptimize(sums.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes) * static_cast<double>(state.iterations()) / 1e9,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Read)->ArgsProduct({{1, 2}, {512}})->ArgNames({"threads", "MiB"})->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  ThreadPool pool;
  const auto bw = cpu::measure_copy_bandwidth(pool);
  std::printf("copy bandwidth (%d threads, best of 5): %.1f GB/s read+write (%.1f GB/s over the threads' CPU time)\n",
              pool.size(), bw.gb_per_s, bw.cpu_gb_per_s);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
