#include "core/thread_pool.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <string>
#include <utility>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace quarrel {
namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Spins until pred() holds or about `micros` have passed; returns pred().
template <typename Pred>
bool spin_until(Pred pred, int micros) {
  if (pred()) return true;
  if (micros <= 0) return false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::microseconds(micros);
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred()) return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline) return pred();
  }
}

}  // namespace

int physical_core_count() {
  // Count distinct (physical id, core id) pairs; fall back to the logical count.
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;
  std::string line;
  int phys = 0;
  while (std::getline(in, line)) {
    if (line.rfind("physical id", 0) == 0) phys = std::stoi(line.substr(line.find(':') + 1));
    if (line.rfind("core id", 0) == 0) cores.insert({phys, std::stoi(line.substr(line.find(':') + 1))});
  }
  const int logical = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  return cores.empty() ? logical : std::min(logical, static_cast<int>(cores.size()));
}

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads > 0 ? n_threads : physical_core_count()) {
  // Spinning only pays when every thread has a core of its own; oversubscribed, it steals the
  // cores the working threads need.
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  spin_micros_ = n_threads_ <= cpus ? kSpinMicros : 0;
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true);
  generation_.fetch_add(1);
  generation_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::worker(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Wait for a new generation: spin first, then sleep. The seq_cst order of the sleepers_
    // increment here and the generation_ increment in run_on_all guarantees that either the
    // caller sees a sleeper (and notifies) or this thread sees the new generation.
    if (!spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; }, spin_micros_)) {
      sleepers_.fetch_add(1);
      while (generation_.load() == seen) generation_.wait(seen);
      sleepers_.fetch_sub(1);
    }
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load()) return;
    (*job_)(index, n_threads_);
    if (pending_.fetch_sub(1) == 1 && caller_sleeping_.load()) {
      pending_.notify_one();
    }
  }
}

void ThreadPool::run_on_all(const std::function<void(int, int)>& fn) {
  if (n_threads_ == 1) {
    fn(0, 1);
    return;
  }
  std::lock_guard lk(run_mu_);
  job_ = &fn;
  pending_.store(n_threads_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1);  // seq_cst: publishes job_ and pending_
  if (sleepers_.load() > 0) generation_.notify_all();
  fn(0, n_threads_);
  if (!spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; }, spin_micros_)) {
    caller_sleeping_.store(1);
    for (int p = pending_.load(); p != 0; p = pending_.load()) pending_.wait(p);
    caller_sleeping_.store(0);
  }
  job_ = nullptr;
}

void ThreadPool::parallel_for(size_t n, const RangeFn& fn, size_t grain) {
  if (n == 0) return;
  grain = std::max<size_t>(grain, 1);
  const size_t units = (n + grain - 1) / grain;
  const int used = static_cast<int>(std::min<size_t>(units, static_cast<size_t>(n_threads_)));
  if (used <= 1) {
    fn(0, n, 0);
    return;
  }
  run_on_all([&](int t, int) {
    if (t >= used) return;
    const size_t b = units * t / used * grain;
    const size_t e = std::min(n, units * (t + 1) / used * grain);
    if (b < e) fn(b, e, t);
  });
}

}  // namespace quarrel
