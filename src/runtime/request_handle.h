#pragma once
// The caller's side of one submitted request: its event stream and its cancel switch.
//
// Events reach the caller one of two ways, chosen at submit:
//   - a sink (EventSink), called on the engine thread for every event in order: it must be
//     quick and must not block (the HTTP server posts the event to its own executor);
//   - no sink: events queue in the handle and next() takes them, blocking (the CLI).
// cancel() works from any thread, at any time: the request ends with StopReason::kCancelled
// (its KV blocks are freed in the engine's next iteration) unless it already ended.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

#include "runtime/request.h"

namespace quarrel::runtime {

using EventSink = std::function<void(TokenEvent&& event)>;

class RequestHandle {
 public:
  // `wake` nudges the engine loop (so a cancel is seen at once); may be empty.
  RequestHandle(RequestId id, EventSink sink, std::function<void()> wake);
  RequestHandle(const RequestHandle&) = delete;
  RequestHandle& operator=(const RequestHandle&) = delete;

  RequestId id() const { return id_; }

  // Without a sink: blocks for the next event and returns true, or returns false once the final
  // event has been taken (the stream is over).
  bool next(TokenEvent& out);
  enum class Wait { kEvent, kTimeout, kEnd };
  // The same, waiting at most `timeout`.
  Wait next_for(TokenEvent& out, std::chrono::milliseconds timeout);

  void cancel();
  bool cancel_requested() const { return cancel_.load(std::memory_order_acquire); }
  // The engine has sent the final event.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Blocks until the engine has sent the final event (with or without a sink).
  void wait_finished();

  // Engine side: hands over one event (to the sink, or to the queue).
  void deliver(TokenEvent&& event);

 private:
  const RequestId id_;
  EventSink sink_;
  std::function<void()> wake_;
  std::atomic<bool> cancel_{false};
  std::atomic<bool> finished_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TokenEvent> queue_;
  bool final_taken_ = false;
};

}  // namespace quarrel::runtime
