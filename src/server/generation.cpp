#include "server/generation.h"

#include <sys/socket.h>

#include <boost/asio/ip/tcp.hpp>

#include <cerrno>

#include "core/error.h"
#include "server/api_error.h"

namespace quarrel::server {

std::shared_ptr<runtime::RequestHandle> submit_to_engine(ModelContext& model, runtime::Request request,
                                                         runtime::EventSink sink) {
  try {
    return model.engine().submit(std::move(request), std::move(sink));
  } catch (const runtime::OverloadedError& e) {
    throw ApiError(503, "OVERLOADED", e.what());
  } catch (const runtime::ContextOverflowError& e) {
    throw ApiError(400, "CONTEXT_OVERFLOW", e.what());
  } catch (const Error& e) {
    const bool bad = e.code() == ErrorCode::kInvalidArgument;
    throw ApiError(bad ? 400 : 500, bad ? "INVALID_REQUEST" : "INFERENCE_ERROR", e.what());
  }
}

std::unique_ptr<Generation> Generation::start(ModelContext& model, boost::asio::any_io_executor ex,
                                              runtime::Request request, const decltype(RouteContext::track)& track) {
  std::unique_ptr<Generation> g(new Generation());
  g->pipe_ = std::make_shared<EventPipe>(ex);
  g->handle_ = submit_to_engine(model, std::move(request), g->pipe_->sink());
  if (track) g->tracked_ = track(g->handle_);
  return g;
}

std::unique_ptr<Generation> Generation::start(RouteContext& ctx, runtime::Request request, bool watch_socket) {
  if (ctx.draining) throw ApiError(503, "OVERLOADED", "the server is shutting down");
  std::unique_ptr<Generation> g = start(ctx.model, ctx.stream.get_executor(), std::move(request), ctx.track);
  if (watch_socket) {
    // A read becoming possible while we only write means the client closed (0 bytes) or broke
    // the connection: cancel. Data (a pipelined request) leaves it running.
    auto& sock = ctx.stream.socket();
    const int fd = sock.native_handle();
    sock.async_wait(boost::asio::ip::tcp::socket::wait_read,
                    [h = g->handle_, done = g->done_, fd](const boost::system::error_code& ec) {
                      if (ec || *done) return;
                      char c;
                      const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
                      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) h->cancel();
                    });
  }
  return g;
}

Generation::~Generation() {
  *done_ = true;
  if (handle_) handle_->cancel();  // no-op once finished
}

}  // namespace quarrel::server
