#pragma once
// The route table: every API file contributes its routes (method, path, handler) and
// http_server.cpp dispatches on it, so adding a route never touches the server's own lines.
//
//   std::vector<Route> ollama_routes();      // in ollama_routes.cpp
//   ... all collected by api_routes() (routes.cpp)
//
// A handler writes its whole response on ctx.stream (respond() for a plain body) and returns
// whether the connection may be kept alive. It may throw ApiError (or a json::exception for a
// body that is not JSON): the server answers with the error body. A path ending in '*' matches
// every path with that prefix.
#include <utility>  // before Boost: its awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/request_handle.h"
#include "server/model_context.h"
#include "server/server_config.h"

namespace quarrel::server {

using StringRequest = boost::beast::http::request<boost::beast::http::string_body>;
using StringResponse = boost::beast::http::response<boost::beast::http::string_body>;

struct RouteContext {
  boost::beast::tcp_stream& stream;
  StringRequest& req;
  const std::string& rid;   // the request id (X-Request-Id, error bodies, logs)
  const std::string& path;  // the target without its query
  ModelContext& model;
  const ServerConfig& cfg;
  const std::atomic<bool>& draining;
  // Counts a submitted engine request as in flight (drain waits for it, cancels it when the
  // grace period is over) until the returned token is dropped.
  std::function<std::shared_ptr<void>(std::shared_ptr<runtime::RequestHandle>)> track;
  // Adds the server's common headers (Server, X-Request-Id, CORS, ...) to a response.
  std::function<void(boost::beast::http::response_header<>&)> decorate;
  unsigned status = 200;  // the status the handler answered with (for logs and metrics)
};

using RouteHandler = std::function<boost::asio::awaitable<bool>(RouteContext&)>;

struct Route {
  boost::beast::http::verb method;
  std::string path;
  RouteHandler handler;
};

// Every route of the table (the OpenAI ones still live in http_server.cpp).
const std::vector<Route>& api_routes();
// The route for this method and path, or null; `path_known` says whether any method has it.
const Route* find_route(boost::beast::http::verb method, const std::string& path, bool* path_known);

// A complete response with the common headers; written by respond().
StringResponse make_response(RouteContext& ctx, unsigned status, std::string content_type, std::string body);
boost::asio::awaitable<bool> respond(RouteContext& ctx, StringResponse res);
// (Arguments by value: these are coroutines and may start after the caller's temporaries are gone.)
boost::asio::awaitable<bool> respond_json(RouteContext& ctx, unsigned status, nlohmann::json body);

}  // namespace quarrel::server
