#pragma once
// One engine request driven from a route handler (Ollama routes, the WebSocket): submitted with
// the engine's refusals turned into ApiErrors (503 OVERLOADED, 400 CONTEXT_OVERFLOW, 400
// INVALID_REQUEST), counted as in flight for the graceful drain, and cancelled when the object
// goes away (finished or not) or, for HTTP, when the client closes its socket.
//
//   auto gen = Generation::start(ctx, std::move(request), /*watch_socket=*/true);
//   for (;;) { runtime::TokenEvent ev = co_await gen->next(); ...; if (ev.final) break; }
#include <utility>  // before Boost: its awaitable.hpp uses std::exchange without it

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <memory>

#include "runtime/request.h"
#include "server/event_pipe.h"
#include "server/route.h"

namespace quarrel::server {

class Generation {
 public:
  // Throws ApiError when the engine refuses the request (or the server is draining).
  static std::unique_ptr<Generation> start(RouteContext& ctx, runtime::Request request, bool watch_socket);
  // The same for a caller that is not an HTTP route (the WebSocket session).
  static std::unique_ptr<Generation> start(ModelContext& model, boost::asio::any_io_executor ex,
                                           runtime::Request request, const decltype(RouteContext::track)& track);
  ~Generation();
  Generation(const Generation&) = delete;
  Generation& operator=(const Generation&) = delete;

  boost::asio::awaitable<runtime::TokenEvent> next() { return pipe_->next(); }
  void cancel() { handle_->cancel(); }
  const runtime::RequestHandle& handle() const { return *handle_; }

 private:
  Generation() = default;
  std::shared_ptr<EventPipe> pipe_;
  std::shared_ptr<runtime::RequestHandle> handle_;
  std::shared_ptr<void> tracked_;
  std::shared_ptr<bool> done_ = std::make_shared<bool>(false);
};

// engine.submit() with its refusals as ApiErrors.
std::shared_ptr<runtime::RequestHandle> submit_to_engine(ModelContext& model, runtime::Request request,
                                                         runtime::EventSink sink);

}  // namespace quarrel::server
