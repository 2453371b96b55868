#include "backend/cpu/membw.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "core/error.h"

namespace quarrel::cpu {

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
  double best = 0;
  for (int r = 0; r <= reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run_on_all([&](int t, int n) {
      const size_t b = bytes / n * t / 4096 * 4096, e = t + 1 == n ? bytes : bytes / n * (t + 1) / 4096 * 4096;
      std::memcpy(dst.get() + b, src.get() + b, e - b);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r > 0) best = std::max(best, 2.0 * static_cast<double>(bytes) / s / 1e9);
  }
  return {best, best / 2};
}

}  // namespace quarrel::cpu
