#pragma once
// The operational side of `quarrel serve`, in one object the HTTP server consults around every
// request: API keys (401), rate limits (429 + Retry-After), CORS (headers and preflights),
// connection limits (503), GET /metrics, and the metrics themselves (it is the engine's
// EngineObserver for token latencies and token counts).
//
//   auto ops = std::make_shared<Operations>(cfg.ops, model);   // registers with the engine
//   // per request, before routing (may throw ApiError 401 / 429):
//   if (auto res = ops->before_route(req, path, peer, rid)) write(*res);   // /metrics, preflight
//   ops->decorate(req, res);        // CORS headers on every response
//   ops->decorate_error(res, err);  // Retry-After, WWW-Authenticate
//   ops->record(req, path, status, seconds, error_code);
//   ops->attach(handle->id(), ops->client_of(req, peer));  // charge the request's tokens
//
// WebSocket sessions: before_route already checked the upgrade request (key in Authorization or
// ?api_key=); count the connection with `auto c = ops->metrics().connection(ConnectionKind::kWebSocket)`.
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "runtime/engine.h"
#include "server/api_error.h"
#include "server/api_keys.h"
#include "server/cors.h"
#include "server/metrics.h"
#include "server/model_context.h"
#include "server/ops_config.h"
#include "server/rate_limiter.h"

namespace quarrel::server {

using StringRequest = boost::beast::http::request<boost::beast::http::string_body>;
using StringResponse = boost::beast::http::response<boost::beast::http::string_body>;

class Operations : public runtime::EngineObserver, public std::enable_shared_from_this<Operations> {
 public:
  // Throws Error for a missing/malformed key file or a bad --cors list.
  Operations(const OpsConfig& config, ModelContext& model);

  // Registers this object as the engine's observer (before the engine starts).
  void observe_engine();

  // Runs before routing. Answers GET /metrics and CORS preflights (the returned response);
  // throws ApiError 401 UNAUTHORIZED (missing, wrong or revoked key) or 429 RATE_LIMITED.
  std::optional<StringResponse> before_route(const StringRequest& req, const std::string& path,
                                             const std::string& peer, const std::string& rid);
  // Whether the request carries a valid key (always true without keys). ?api_key= counts only
  // when `allow_query` (the WebSocket upgrade).
  bool authorized(const StringRequest& req, bool allow_query);
  // The rate-limit identity: "key:NAME" with keys, else "addr:PEER".
  std::string client_of(const StringRequest& req, const std::string& peer);

  void decorate(const StringRequest& req, boost::beast::http::fields& res) const { cors_.decorate(req, res); }
  void decorate_error(boost::beast::http::fields& res, const ApiError& e) const;
  // One answered request: quarrel_requests_total, the duration histogram, errors by code.
  void record(const StringRequest& req, const std::string& path, unsigned status, double seconds,
              const std::string& error_code = "");
  // Ties an engine request to its client, so its tokens count against the client's limit.
  void attach(runtime::RequestId id, const std::string& client);

  // Whether the open HTTP connections (this one counted) exceed --max-connections.
  bool over_connection_limit() const;
  // A connection beyond --max-connections gets this 503 (and is closed); nothing otherwise.
  // Call with the connection already counted.
  std::optional<StringResponse> refuse_connection(const std::string& rid) const;

  Metrics& metrics() { return metrics_; }
  std::string render_metrics() const;
  bool log_debug() const { return config_.log_debug; }

  // runtime::EngineObserver (engine thread)
  void on_token(runtime::RequestId id, bool first, double seconds) override;
  void on_finish(runtime::RequestId id, const runtime::TokenEvent& final_event) override;

 private:
  OpsConfig config_;
  ModelContext& model_;
  std::unique_ptr<ApiKeyStore> keys_;
  RateLimiter limiter_;
  CorsPolicy cors_;
  Metrics metrics_;
  std::mutex clients_mu_;
  std::unordered_map<runtime::RequestId, std::string> clients_;  // attached, not finished
  std::unordered_map<runtime::RequestId, int64_t> unclaimed_;   // finished before attach: tokens
};

// The route label for metrics: the path for known routes, "/v1/models/{id}", or "other".
std::string route_label(const std::string& path);
// Interactive or batch, from the X-Quarrel-Priority header or the body's "priority" field
// ("interactive" | "batch"); ApiError 400 for another value.
runtime::Priority request_priority(const StringRequest& req, const nlohmann::ordered_json& body);
// The peer's IP address ("" when unknown).
std::string peer_address(const boost::beast::tcp_stream& stream);

}  // namespace quarrel::server
