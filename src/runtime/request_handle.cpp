#include "runtime/request_handle.h"

namespace quarrel::runtime {

RequestHandle::RequestHandle(RequestId id, EventSink sink, std::function<void()> wake)
    : id_(id), sink_(std::move(sink)), wake_(std::move(wake)) {}

bool RequestHandle::next(TokenEvent& out) {
  return next_for(out, std::chrono::milliseconds::max()) == Wait::kEvent;
}

RequestHandle::Wait RequestHandle::next_for(TokenEvent& out, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  auto ready = [&] { return !queue_.empty() || final_taken_; };
  if (timeout == std::chrono::milliseconds::max()) {
    cv_.wait(lock, ready);
  } else if (!cv_.wait_for(lock, timeout, ready)) {
    return Wait::kTimeout;
  }
  if (queue_.empty()) return Wait::kEnd;
  out = std::move(queue_.front());
  queue_.pop_front();
  if (out.final) final_taken_ = true;
  return Wait::kEvent;
}

void RequestHandle::cancel() {
  if (cancel_.exchange(true, std::memory_order_acq_rel)) return;
  if (wake_) wake_();
}

void RequestHandle::wait_finished() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return finished_.load(std::memory_order_acquire); });
}

void RequestHandle::deliver(TokenEvent&& event) {
  const bool final = event.final;
  if (sink_) {
    sink_(std::move(event));
    if (final) {
      std::lock_guard lock(mu_);
      finished_.store(true, std::memory_order_release);
      cv_.notify_all();
    }
    return;
  }
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(event));
  if (final) finished_.store(true, std::memory_order_release);
  cv_.notify_all();
}

}  // namespace quarrel::runtime
