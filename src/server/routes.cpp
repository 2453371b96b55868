// The route table (route.h): each API file's routes, collected once, and the response helpers.
#include "server/route.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace quarrel::server {

namespace http = boost::beast::http;

// Each API file defines its list; add a line here and in api_routes() for a new file.
std::vector<Route> ollama_routes();     // ollama_routes.cpp
std::vector<Route> tokenize_routes();   // tokenize_routes.cpp
std::vector<Route> websocket_routes();  // websocket_session.cpp
std::vector<Route> docs_routes();       // docs_page.cpp (/openapi.json, /docs)

const std::vector<Route>& api_routes() {
  static const std::vector<Route> all = [] {
    std::vector<Route> r;
    auto add = [&r](std::vector<Route> more) {
      for (auto& route : more) r.push_back(std::move(route));
    };
    add(ollama_routes());
    add(tokenize_routes());
    add(websocket_routes());
    add(docs_routes());
    return r;
  }();
  return all;
}

const Route* find_route(http::verb method, const std::string& path, bool* path_known) {
  const Route* found = nullptr;
  bool known = false;
  for (const Route& r : api_routes()) {
    const bool match = !r.path.empty() && r.path.back() == '*'
                           ? path.compare(0, r.path.size() - 1, r.path, 0, r.path.size() - 1) == 0
                           : path == r.path;
    if (!match) continue;
    known = true;
    if (r.method == method && !found) found = &r;
  }
  if (path_known) *path_known = known;
  return found;
}

StringResponse make_response(RouteContext& ctx, unsigned status, std::string content_type, std::string body) {
  StringResponse res{static_cast<http::status>(status), ctx.req.version()};
  res.set(http::field::content_type, content_type);
  res.keep_alive(ctx.req.keep_alive());
  if (ctx.decorate) ctx.decorate(res.base());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

boost::asio::awaitable<bool> respond(RouteContext& ctx, StringResponse res) {
  ctx.status = res.result_int();
  boost::beast::error_code ec;
  co_await http::async_write(ctx.stream, res, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  co_return !ec && res.keep_alive();
}

boost::asio::awaitable<bool> respond_json(RouteContext& ctx, unsigned status, nlohmann::json body) {
  co_return co_await respond(
      ctx, make_response(ctx, status, "application/json",
                         body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"));
}

}  // namespace quarrel::server
