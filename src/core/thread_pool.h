#pragma once
// A fixed pool of worker threads for data-parallel loops. parallel_for(n, fn) calls fn(begin,
// end, thread_index) on contiguous chunks covering [0, n), using the caller as one of the
// workers, and returns when every chunk is done. Default size: the physical cores.
//
// Dispatch is built for many short jobs (a decode step runs a few hundred): an idle worker
// spins on the job counter for a short while (kSpinMicros) before it sleeps on a futex, and the
// caller spins for the workers to finish, so back-to-back jobs cost no system call. One job
// runs at a time; concurrent callers are serialized. A pool with more threads than the machine
// has CPUs does not spin.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace quarrel {

int physical_core_count();

class ThreadPool {
 public:
  explicit ThreadPool(int n_threads = 0);  // 0: physical cores
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  using RangeFn = std::function<void(size_t begin, size_t end, int thread)>;
  // Splits [0, n) into one contiguous chunk per thread (aligned to `grain` elements).
  void parallel_for(size_t n, const RangeFn& fn, size_t grain = 1);
  // Runs fn(thread, n_threads) once on every thread.
  void run_on_all(const std::function<void(int thread, int n_threads)>& fn);

  // How long an idle worker (and a waiting caller) spins before sleeping.
  static constexpr int kSpinMicros = 2000;

 private:
  void worker(int index);

  int n_threads_;
  int spin_micros_ = 0;  // kSpinMicros, or 0 when there are more threads than CPUs
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one job at a time
  const std::function<void(int, int)>* job_ = nullptr;
  alignas(64) std::atomic<uint64_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int> sleepers_{0};
  std::atomic<int> caller_sleeping_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace quarrel
