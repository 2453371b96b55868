#pragma once
// `quarrel serve`'s HTTP server: Boost.Beast HTTP/1.1 (keep-alive) on one Asio thread, each
// connection a C++20 coroutine; the engine thread does the inference and its events reach the
// connection's coroutine through EventPipe (posted to the Asio thread).
//
//   HttpServer server(model, config);
//   server.listen();               // binds; port() says where (config.port 0: any free port)
//   int code = server.run();       // until SIGTERM/SIGINT, then drains (config.shutdown_grace)
//
// Routes: GET /healthz /readyz /version /v1/models; POST /v1/completions /v1/chat/completions
// (JSON, or server-sent events with "stream": true ending in "data: [DONE]"). A client that
// goes away mid-stream cancels its engine request.
#include <cstdint>
#include <memory>

#include "server/model_context.h"
#include "server/server_config.h"

namespace quarrel::server {

class HttpServer {
 public:
  HttpServer(ModelContext& model, ServerConfig config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on config.host:config.port; throws Error(kIo) naming the address.
  void listen();
  uint16_t port() const;
  // Serves until SIGTERM/SIGINT (or shutdown()), then stops accepting, lets running requests
  // finish for the grace period, cancels the rest, and returns 0.
  int run();
  // Thread-safe: begins the same graceful shutdown.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace quarrel::server
