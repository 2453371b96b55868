#include "server/http_server.h"

#include <sys/socket.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <fmt/format.h>
#include <set>

#include "core/error.h"
#include "server/api_error.h"
#include "server/event_pipe.h"
#include "server/log.h"
#include "server/ollama_response.h"
#include "server/openai_request.h"
#include "server/openai_response.h"
#include "server/operations.h"
#include "server/route.h"

namespace quarrel::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using json = nlohmann::json;
using net::awaitable;
using net::use_awaitable;

namespace {

constexpr const char* kVersion = "0.1.0";

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

StringResponse json_response(unsigned status, const json& body, const StringRequest& req, const std::string& rid) {
  StringResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, std::string("quarrel/") + kVersion);
  res.set(http::field::content_type, "application/json");
  res.set("X-Request-Id", rid);
  res.keep_alive(req.keep_alive());
  res.body() = dump(body) + "\n";
  res.prepare_payload();
  return res;
}

std::string target_path(const StringRequest& req) {
  std::string t(req.target());
  const auto q = t.find('?');
  return q == std::string::npos ? t : t.substr(0, q);
}

}  // namespace

struct HttpServer::Impl {
  Impl(ModelContext& m, ServerConfig c)
      : model(m), cfg(std::move(c)), ops(std::make_shared<Operations>(cfg.ops, model)) {
    ops->observe_engine();
  }

  ModelContext& model;
  ServerConfig cfg;
  std::shared_ptr<Operations> ops;  // keys, rate limits, CORS, metrics (operations.h)
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::signal_set signals{io, SIGINT, SIGTERM};
  std::atomic<bool> draining{false};
  int active = 0;  // generations in flight (Asio thread only)
  std::set<std::shared_ptr<runtime::RequestHandle>> live;
  uint64_t next_request = 1;

  // ---- routes ----

  awaitable<bool> handle(beast::tcp_stream& stream, StringRequest& req) {
    const std::string rid = fmt::format("req-{:06x}", next_request++);
    const std::string path = target_path(req);
    const auto t0 = std::chrono::steady_clock::now();
    std::optional<ApiError> err;
    bool keep = req.keep_alive();
    unsigned status = 200;
    const std::string peer = peer_address(stream);
    try {
      // /metrics and CORS preflights are answered here; throws 401 / 429.
      std::optional<StringResponse> early = ops->before_route(req, path, peer, rid);
      const bool post = req.method() == http::verb::post;
      const bool get = req.method() == http::verb::get;
      bool table_knows = false;
      const Route* route = early ? nullptr : find_route(req.method(), path, &table_knows);
      if (route) {
        RouteContext ctx{stream, req, rid, path, model, cfg, draining, track_fn(ops->client_of(req, peer)),
                         decorate_fn(req, rid)};
        // A WebSocket session runs inside its route's handler: counted while it lives.
        const auto ws = path == "/ws" ? ops->metrics().connection(ConnectionKind::kWebSocket) : nullptr;
        keep = co_await route->handler(ctx) && keep;
        status = ctx.status;
      } else if (post && (path == "/v1/chat/completions" || path == "/v1/completions")) {
        keep = co_await generate(stream, req, rid, path == "/v1/chat/completions") && keep;
      } else {
        std::optional<StringResponse> res = std::move(early);
        if (res) {  // answered by ops
        } else if (get && path == "/healthz") {
          res = json_response(200, {{"status", "ok"}}, req, rid);
        } else if (get && path == "/readyz") {
          const bool ready = model.engine().running() && !draining;
          res = json_response(ready ? 200 : 503, {{"status", ready ? "ready" : "not ready"}}, req, rid);
        } else if (get && path == "/version") {
          res = json_response(200, {{"version", kVersion}, {"name", "quarrel"}}, req, rid);
        } else if (get && path == "/v1/models") {
          res = json_response(200, {{"object", "list"}, {"data", json::array({model_json()})}}, req, rid);
        } else if (get && path.rfind("/v1/models/", 0) == 0) {
          if (!model.matches(path.substr(11)))
            throw ApiError(404, "MODEL_NOT_FOUND", fmt::format("model '{}' is not served here", path.substr(11)));
          res = json_response(200, model_json(), req, rid);
        } else if (table_knows || path == "/v1/chat/completions" || path == "/v1/completions" || path == "/healthz" ||
                   path == "/readyz" || path == "/version" || path == "/v1/models") {
          throw ApiError(405, "INVALID_REQUEST", fmt::format("{}: method {} not allowed", path,
                                                             std::string(req.method_string())));
        } else {
          throw ApiError(404, "NOT_FOUND", fmt::format("{}: no such route", path));
        }
        status = res->result_int();
        ops->decorate(req, *res);
        beast::error_code ec;
        co_await http::async_write(stream, *res, net::redirect_error(use_awaitable, ec));
        if (ec) keep = false;
      }
    } catch (const ApiError& e) {
      err = e;
    } catch (const json::exception& e) {
      err = invalid_request(fmt::format("the body is not valid JSON: {}", e.what()));
    } catch (const std::exception& e) {
      err = ApiError(500, "INFERENCE_ERROR", e.what());
    }
    if (err) {
      status = static_cast<unsigned>(err->status());
      // Ollama clients read "error" as a string (401, 429, ... before an /api/ route runs).
      const bool ollama = path.rfind("/api/", 0) == 0;
      auto res = json_response(status, ollama ? ollama_error_body(*err, rid) : error_body(*err, rid), req, rid);
      ops->decorate_error(res, *err);
      ops->decorate(req, res);
      beast::error_code ec;
      co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
      if (ec) keep = false;
      log_line(status >= 500 ? "WARN" : "INFO", rid, "request failed",
               {{"code", err->code()}, {"status", status}, {"error", err->what()}});
    }
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    log_line("INFO", rid, "request",
             {{"method", std::string(req.method_string())}, {"path", path}, {"status", status}, {"ms", ms}});
    ops->record(req, path, status, ms / 1000.0, err ? err->code() : "");
    co_return keep && !draining;
  }

  // For route handlers (route.h): in-flight tracking and the common headers.
  std::function<std::shared_ptr<void>(std::shared_ptr<runtime::RequestHandle>)> track_fn(std::string client) {
    return [this, client](std::shared_ptr<runtime::RequestHandle> h) {
      ops->attach(h->id(), client);  // its tokens count against the client's rate limit
      live.insert(h);
      ++active;
      return std::shared_ptr<void>(nullptr, [this, h](void*) {
        h->cancel();
        live.erase(h);
        --active;
      });
    };
  }
  std::function<void(http::response_header<>&)> decorate_fn(const StringRequest& req, const std::string& rid) {
    return [this, &req, rid](http::response_header<>& h) {
      h.set(http::field::server, std::string("quarrel/") + kVersion);
      h.set("X-Request-Id", rid);
      ops->decorate(req, h);
    };
  }

  json model_json() const {
    return {{"id", model.id()}, {"object", "model"}, {"created", model.created()}, {"owned_by", "quarrel"}};
  }

  // Cancels the request when the client closes its end (a read of 0 bytes while it waits).
  void watch_disconnect(beast::tcp_stream& stream, std::shared_ptr<runtime::RequestHandle> h,
                        std::shared_ptr<bool> done) {
    const int fd = stream.socket().native_handle();
    stream.socket().async_wait(tcp::socket::wait_read, [h, done, fd](const beast::error_code& ec) {
      if (ec || *done) return;
      char c;
      const ssize_t n = ::recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) h->cancel();
    });
  }

  awaitable<bool> generate(beast::tcp_stream& stream, StringRequest& req, const std::string& rid, bool chat) {
    if (draining) throw ApiError(503, "OVERLOADED", "the server is shutting down");
    const auto body = nlohmann::ordered_json::parse(req.body());
    GenerationRequest g = parse_openai_request(body, chat, model, cfg.max_tokens_limit);
    g.request.priority = request_priority(req, body);
    auto pipe = std::make_shared<EventPipe>(stream.get_executor());
    std::shared_ptr<runtime::RequestHandle> h;
    try {
      h = model.engine().submit(std::move(g.request), pipe->sink());
    } catch (const runtime::OverloadedError& e) {
      throw ApiError(503, "OVERLOADED", e.what());
    } catch (const runtime::ContextOverflowError& e) {
      throw ApiError(400, "CONTEXT_OVERFLOW", e.what());
    } catch (const Error& e) {
      throw ApiError(e.code() == ErrorCode::kInvalidArgument ? 400 : 500,
                     e.code() == ErrorCode::kInvalidArgument ? "INVALID_REQUEST" : "INFERENCE_ERROR", e.what());
    }
    ops->attach(h->id(), ops->client_of(req, peer_address(stream)));
    live.insert(h);
    ++active;
    struct Guard {
      Impl* self;
      std::shared_ptr<runtime::RequestHandle> h;
      std::shared_ptr<bool> done = std::make_shared<bool>(false);
      ~Guard() {
        *done = true;
        h->cancel();  // no-op once finished; ends it when the client went away
        self->live.erase(h);
        --self->active;
      }
    } guard{this, h};
    watch_disconnect(stream, h, guard.done);

    OpenAiFormatter out(g, model, (chat ? "chatcmpl-" : "cmpl-") + rid);
    if (!g.stream) {
      runtime::TokenEvent ev;
      for (;;) {
        ev = co_await pipe->next();
        out.add(ev);
        if (ev.final) break;
      }
      if (ev.reason == runtime::StopReason::kError) throw ApiError(500, "INFERENCE_ERROR", ev.error);
      if (ev.reason == runtime::StopReason::kCancelled && draining)
        throw ApiError(503, "OVERLOADED", "the server shut down before the answer was complete");
      auto res = json_response(200, out.response(ev), req, rid);
      ops->decorate(req, res);
      beast::error_code ec;
      co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
      co_return !ec;
    }

    http::response<http::empty_body> res{http::status::ok, req.version()};
    res.set(http::field::server, std::string("quarrel/") + kVersion);
    res.set(http::field::content_type, "text/event-stream");
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Request-Id", rid);
    res.keep_alive(req.keep_alive());
    res.chunked(true);
    ops->decorate(req, res);
    http::response_serializer<http::empty_body> sr{res};
    beast::error_code ec;
    stream.expires_after(std::chrono::seconds(60));
    co_await http::async_write_header(stream, sr, net::redirect_error(use_awaitable, ec));
    if (ec) co_return false;
    auto send = [&](const std::string& data) -> awaitable<bool> {
      stream.expires_after(std::chrono::seconds(60));
      beast::error_code wec;
      co_await net::async_write(stream, http::make_chunk(net::buffer(data)), net::redirect_error(use_awaitable, wec));
      co_return !wec;
    };
    if (!co_await send("data: " + dump(out.first_chunk()) + "\n\n")) co_return false;
    for (;;) {
      runtime::TokenEvent ev = co_await pipe->next();
      std::string data;
      if (!ev.final) {
        const json c = out.token_chunk(ev);
        if (c.is_null()) continue;
        data = "data: " + dump(c) + "\n\n";
      } else if (ev.reason == runtime::StopReason::kError) {
        data = "data: " + dump(error_body(ApiError(500, "INFERENCE_ERROR", ev.error), rid)) + "\n\n";
      } else {
        data = "data: " + dump(out.final_chunk(ev)) + "\n\n";
        if (g.include_usage) data += "data: " + dump(out.usage_chunk(ev)) + "\n\n";
      }
      if (ev.final) data += "data: [DONE]\n\n";
      if (!co_await send(data)) co_return false;  // the guard cancels the request
      if (ev.final) break;
    }
    co_await net::async_write(stream, http::make_chunk_last(), net::redirect_error(use_awaitable, ec));
    stream.expires_never();
    co_return !ec;
  }

  // ---- connections ----

  awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    const auto counted = ops->metrics().connection(ConnectionKind::kHttp);
    // Past --max-connections: the first request is read, answered 503 and the connection closed.
    std::optional<StringResponse> busy;
    if (ops->over_connection_limit()) busy = ops->refuse_connection(fmt::format("req-{:06x}", next_request++));
    try {
      for (;;) {
        http::request_parser<http::string_body> parser;
        parser.body_limit(cfg.max_body_bytes);
        parser.header_limit(16 * 1024);
        stream.expires_after(cfg.idle_timeout);
        beast::error_code ec;
        co_await http::async_read(stream, buffer, parser, net::redirect_error(use_awaitable, ec));
        if (ec == http::error::end_of_stream || ec == beast::error::timeout) break;
        if (ec && ec.category() == http::make_error_code(http::error::body_limit).category()) {
          const bool too_big = ec == http::error::body_limit || ec == http::error::header_limit;
          const ApiError e(too_big ? (ec == http::error::body_limit ? 413 : 431) : 400,
                           too_big ? "INVALID_REQUEST" : "INVALID_REQUEST",
                           too_big ? fmt::format("the request is larger than the limit ({} bytes of body)",
                                                 cfg.max_body_bytes)
                                   : fmt::format("malformed HTTP request: {}", ec.message()));
          StringRequest dummy;
          const std::string rid = fmt::format("req-{:06x}", next_request++);
          auto res = json_response(e.status(), error_body(e, rid), dummy, rid);
          res.keep_alive(false);
          co_await http::async_write(stream, res, net::redirect_error(use_awaitable, ec));
          break;
        }
        if (ec) break;
        stream.expires_never();
        StringRequest req = parser.release();
        if (busy) {
          co_await http::async_write(stream, *busy, net::redirect_error(use_awaitable, ec));
          break;
        }
        if (!co_await handle(stream, req)) break;
      }
    } catch (const std::exception& e) {
      log_line("WARN", "", "connection ended by an error", {{"error", e.what()}});
    }
    beast::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket s = co_await acceptor.async_accept(net::redirect_error(use_awaitable, ec));
      if (ec) {
        if (!acceptor.is_open()) co_return;
        continue;
      }
      net::co_spawn(io, session(std::move(s)), net::detached);
    }
  }

  awaitable<void> drain() {
    if (draining.exchange(true)) co_return;
    beast::error_code ec;
    acceptor.close(ec);
    log_line("INFO", "", "shutting down", {{"in_flight", active}, {"grace_s", cfg.shutdown_grace.count()}});
    net::steady_timer t(io);
    auto wait_until = [&](std::chrono::steady_clock::time_point deadline) -> awaitable<void> {
      while (active > 0 && std::chrono::steady_clock::now() < deadline) {
        t.expires_after(std::chrono::milliseconds(20));
        co_await t.async_wait(net::redirect_error(use_awaitable, ec));
      }
    };
    co_await wait_until(std::chrono::steady_clock::now() + cfg.shutdown_grace);
    if (active > 0) log_line("WARN", "", "grace period over: cancelling", {{"in_flight", active}});
    for (const auto& h : live) h->cancel();
    co_await wait_until(std::chrono::steady_clock::now() + std::chrono::seconds(2));
    log_line("INFO", "", "stopped");
    io.stop();
  }
};

HttpServer::HttpServer(ModelContext& model, ServerConfig config)
    : impl_(std::make_unique<Impl>(model, std::move(config))) {}

HttpServer::~HttpServer() = default;

void HttpServer::listen() {
  auto& a = impl_->acceptor;
  beast::error_code ec;
  const auto addr = net::ip::make_address(impl_->cfg.host, ec);
  if (ec) fail(ErrorCode::kInvalidArgument, "--host: '{}' is not an IP address", impl_->cfg.host);
  const tcp::endpoint ep{addr, impl_->cfg.port};
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) a.bind(ep, ec);
  if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail(ErrorCode::kIo, "{}:{}: cannot listen: {}", impl_->cfg.host, impl_->cfg.port, ec.message());
}

uint16_t HttpServer::port() const { return impl_->acceptor.local_endpoint().port(); }

int HttpServer::run() {
  Impl& s = *impl_;
  s.signals.async_wait([&s](const beast::error_code& ec, int) {
    if (!ec) net::co_spawn(s.io, s.drain(), net::detached);
  });
  net::co_spawn(s.io, s.accept_loop(), net::detached);
  s.io.run();
  return 0;
}

void HttpServer::shutdown() {
  Impl& s = *impl_;
  net::post(s.io, [&s] { net::co_spawn(s.io, s.drain(), net::detached); });
}

}  // namespace quarrel::server
