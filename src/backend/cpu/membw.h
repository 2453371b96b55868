#pragma once
// The machine's memory copy bandwidth, the yardstick for the bandwidth-bound share of decode
// speed (quarrel bench, bench/membw_bench, bench/cpu_kernels_bench).
#include <cstddef>

#include "core/thread_pool.h"

namespace quarrel::cpu {

struct CopyBandwidth {
  double gb_per_s = 0;      // best of the repetitions: (bytes read + bytes written) / wall time / 1e9
  double cpu_gb_per_s = 0;  // the same over the slowest thread's CPU time: what an otherwise idle
                            // machine would give when other processes compete for the cores
};

// Copies a buffer of `bytes` (default 512 MiB, far past the caches) to another, split over the
// pool's threads, `reps` times after one warm-up, and reports the best run.
CopyBandwidth measure_copy_bandwidth(ThreadPool& pool, size_t bytes = size_t{512} << 20, int reps = 5);

}  // namespace quarrel::cpu
