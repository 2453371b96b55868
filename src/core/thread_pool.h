#pragma once
// A fixed pool of worker threads for data-parallel loops. parallel_for(n, fn) calls fn(begin,
// end, thread_index) on contiguous chunks covering [0, n), using the caller as one of the
// workers, and returns when every chunk is done. Default size: the physical cores.
#include <condition_variable>
#include <cstddef>
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

 private:
  void worker(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_start_, cv_done_;
  const std::function<void(int, int)>* job_ = nullptr;
  uint64_t generation_ = 0;
  int pending_ = 0;
  bool stop_ = false;
};

}  // namespace quarrel
