#include "backend/cpu/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include <time.h>

#include "core/error.h"

namespace quarrel::cpu {
namespace {

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

}  // namespace

CopyBandwidth measure_copy_bandwidth(ThreadPool& pool, size_t bytes, int reps) {
  bytes = std::max<size_t>(bytes & ~size_t{4095}, 4096);
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<char, Free> src(static_cast<char*>(std::aligned_alloc(4096, bytes)));
  std::unique_ptr<char, Free> dst(static_cast<char*>(std::aligned_alloc(4096, bytes)));
  if (!src || !dst) fail(ErrorCode::kOutOfMemory, "memory bandwidth test: cannot allocate 2 x {} bytes", bytes);
  // Touch every page (in parallel, so each thread's half is local to it).
  pool.run_on_all([&](int t, int n) {
    const size_t b = bytes / n * t / 4096 * 4096, e = t + 1 == n ? bytes : bytes / n * (t + 1) / 4096 * 4096;
    std::memset(src.get() + b, 1, e - b);
    std::memset(dst.get() + b, 2, e - b);
  });
  double best = 0, best_cpu = 0;
  std::vector<double> cpu(static_cast<size_t>(pool.size()));
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run_on_all([&](int t, int n) {
      const size_t b = bytes / n * t / 4096 * 4096, e = t + 1 == n ? bytes : bytes / n * (t + 1) / 4096 * 4096;
      const double c0 = thread_cpu_seconds();
      std::memcpy(dst.get() + b, src.get() + b, e - b);
      cpu[static_cast<size_t>(t)] = thread_cpu_seconds() - c0;
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double c = *std::max_element(cpu.begin(), cpu.end());
    if (r > 0) {
      best = std::max(best, 2.0 * static_cast<double>(bytes) / s / 1e9);
      best_cpu = std::max(best_cpu, 2.0 * static_cast<double>(bytes) / c / 1e9);
    }
  }
  return {best, best_cpu};
}

}  // namespace quarrel::cpu
