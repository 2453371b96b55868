#pragma once
// Engine events -> one connection's coroutine. The engine thread calls push() (through the
// request's EventSink); it queues the event and posts a wake-up to the connection's executor,
// where next() waits on a timer. Everything but push() runs on the (single) Asio thread, so a
// wake-up is never lost: either next() sees the queued event before waiting, or the posted
// wake-up cancels the wait.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <memory>
#include <mutex>

#include "runtime/request.h"
#include "runtime/request_handle.h"

namespace quarrel::server {

class EventPipe : public std::enable_shared_from_this<EventPipe> {
 public:
  explicit EventPipe(boost::asio::any_io_executor ex) : ex_(ex), timer_(ex) {}

  // The sink to submit with (keeps the pipe alive while the engine holds it).
  runtime::EventSink sink() {
    return [self = shared_from_this()](runtime::TokenEvent&& ev) { self->push(std::move(ev)); };
  }

  void push(runtime::TokenEvent&& ev) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(ev));
    }
    boost::asio::post(ex_, [self = shared_from_this()] { self->timer_.cancel(); });
  }

  boost::asio::awaitable<runtime::TokenEvent> next() {
    for (;;) {
      {
        std::lock_guard lock(mu_);
        if (!queue_.empty()) {
          runtime::TokenEvent ev = std::move(queue_.front());
          queue_.pop_front();
          co_return ev;
        }
      }
      timer_.expires_at(boost::asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    }
  }

 private:
  boost::asio::any_io_executor ex_;
  boost::asio::steady_timer timer_;
  std::mutex mu_;
  std::deque<runtime::TokenEvent> queue_;
};

}  // namespace quarrel::server
