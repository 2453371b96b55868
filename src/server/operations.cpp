#include "server/operations.h"

#include <array>
#include <fmt/format.h>

#include "sampling/stop.h"
#include "server/log.h"

namespace quarrel::server {

namespace http = boost::beast::http;

namespace {

StringResponse plain_response(unsigned status, const StringRequest& req, const std::string& rid,
                              const std::string& content_type, std::string body) {
  StringResponse res{static_cast<http::status>(status), req.version() ? req.version() : 11};
  res.set(http::field::content_type, content_type);
  res.set("X-Request-Id", rid);
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

std::string reason_name(runtime::StopReason r) {
  switch (r) {
    case runtime::StopReason::kStopToken: return "stop_token";
    case runtime::StopReason::kStopString: return "stop_string";
    case runtime::StopReason::kLength: return "length";
    case runtime::StopReason::kContextFull: return "context_full";
    case runtime::StopReason::kCancelled: return "cancelled";
    case runtime::StopReason::kTimeout: return "timeout";
    case runtime::StopReason::kError: return "error";
    case runtime::StopReason::kNone: break;
  }
  return "none";
}

// The api_key query parameter of a target ("" when absent).
std::string query_api_key(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view item = rest.substr(0, amp);
    if (item.starts_with("api_key=")) return std::string(item.substr(8));
    if (amp == std::string_view::npos) break;
    rest.remove_prefix(amp + 1);
  }
  return {};
}

}  // namespace

std::string route_label(const std::string& path) {
  static const std::array<const char*, 21> known = {
      "/healthz", "/readyz", "/version", "/metrics", "/v1/models", "/v1/completions", "/v1/chat/completions",
      "/api/generate", "/api/chat", "/api/tags", "/api/show", "/api/ps", "/api/version", "/api/embed",
      "/tokenize", "/detokenize", "/ws", "/openapi.json", "/docs", "/", "/v1/embeddings"};
  for (const char* k : known)
    if (path == k) return path;
  if (path.starts_with("/v1/models/")) return "/v1/models/{id}";
  return "other";
}

runtime::Priority request_priority(const StringRequest& req, const nlohmann::ordered_json& body) {
  std::string value;
  std::string where;
  if (const auto it = req.find("X-Quarrel-Priority"); it != req.end()) {
    value = std::string(it->value());
    where = "X-Quarrel-Priority";
  } else if (body.is_object() && body.contains("priority") && !body["priority"].is_null()) {
    if (!body["priority"].is_string()) throw invalid_request("priority: must be \"interactive\" or \"batch\"");
    value = body["priority"].get<std::string>();
    where = "priority";
  }
  if (value.empty() || value == "interactive") return runtime::Priority::kInteractive;
  if (value == "batch") return runtime::Priority::kBatch;
  throw invalid_request(fmt::format("{}: must be \"interactive\" or \"batch\"", where));
}

std::string peer_address(const boost::beast::tcp_stream& stream) {
  boost::system::error_code ec;
  const auto ep = stream.socket().remote_endpoint(ec);
  return ec ? std::string() : ep.address().to_string();
}

Operations::Operations(const OpsConfig& config, ModelContext& model)
    : config_(config), model_(model), limiter_(config.rate_limits), cors_(CorsPolicy::parse(config.cors)) {
  if (!config_.api_keys_file.empty()) keys_ = std::make_unique<ApiKeyStore>(config_.api_keys_file);
}

void Operations::observe_engine() { model_.engine().set_observer(shared_from_this()); }

bool Operations::authorized(const StringRequest& req, bool allow_query) {
  if (!keys_) return true;
  std::optional<std::string> key;
  if (const auto it = req.find(http::field::authorization); it != req.end()) key = bearer_token(std::string_view(it->value().data(), it->value().size()));
  if (!key && allow_query) {
    std::string q = query_api_key(std::string_view(req.target().data(), req.target().size()));
    if (!q.empty()) key = std::move(q);
  }
  return key && keys_->check(*key).has_value();
}

std::string Operations::client_of(const StringRequest& req, const std::string& peer) {
  if (keys_) {
    std::optional<std::string> key;
    if (const auto it = req.find(http::field::authorization); it != req.end()) key = bearer_token(std::string_view(it->value().data(), it->value().size()));
    if (!key) key = query_api_key(std::string_view(req.target().data(), req.target().size()));
    if (key && !key->empty())
      if (auto name = keys_->check(*key)) return "key:" + *name;
  }
  return "addr:" + peer;
}

std::optional<StringResponse> Operations::before_route(const StringRequest& req, const std::string& path,
                                                       const std::string& peer, const std::string& rid) {
  if (config_.log_debug) {
    log_line("DEBUG", rid, "request body",
             {{"method", std::string(req.method_string())}, {"path", path}, {"body", req.body().substr(0, 65536)}});
  }
  // Preflights carry no credentials (browsers never send them): answered before auth.
  if (CorsPolicy::is_preflight(req, req.method() == http::verb::options)) {
    StringResponse res = plain_response(204, req, rid, "text/plain", "");
    const bool ok = cors_.preflight(req, res);
    if (!ok) res.result(http::status::forbidden);
    res.prepare_payload();
    return res;
  }
  if (path == "/healthz") return std::nullopt;
  if (!authorized(req, path == "/ws")) {
    const bool had = req.find(http::field::authorization) != req.end() || !query_api_key(std::string_view(req.target().data(), req.target().size())).empty();
    throw ApiError(401, "UNAUTHORIZED",
                   had ? "the API key is not valid (revoked or mistyped)"
                       : "this server needs an API key: send Authorization: Bearer KEY");
  }
  if (path != "/readyz" && path != "/metrics") {
    const std::string client = client_of(req, peer);
    if (const int64_t wait = limiter_.admit(client); wait > 0) {
      throw ApiError(429, "RATE_LIMITED",
                     fmt::format("rate limit reached ({} requests, {} tokens per minute): retry in {} s",
                                 limiter_.limits().requests_per_minute, limiter_.limits().tokens_per_minute, wait))
          .with_retry_after(static_cast<int>(std::min<int64_t>(wait, 3600)));
    }
  }
  if (path == "/metrics") {
    if (req.method() != http::verb::get) throw ApiError(405, "INVALID_REQUEST", "/metrics: method not allowed");
    StringResponse res =
        plain_response(200, req, rid, "text/plain; version=0.0.4; charset=utf-8", render_metrics());
    cors_.decorate(req, res);
    return res;
  }
  return std::nullopt;
}

void Operations::decorate_error(http::fields& res, const ApiError& e) const {
  if (e.retry_after() > 0) {
    res.set(http::field::retry_after, std::to_string(e.retry_after()));
  } else if (e.code() == "OVERLOADED") {
    res.set(http::field::retry_after, "1");
  }
  if (e.status() == 401) res.set(http::field::www_authenticate, "Bearer");
}

void Operations::record(const StringRequest& req, const std::string& path, unsigned status, double seconds,
                        const std::string& error_code) {
  const std::string route = route_label(path);
  const bool generation = route == "/v1/completions" || route == "/v1/chat/completions" || route == "/api/generate" ||
                          route == "/api/chat" || route == "/ws";
  (void)req;
  metrics_.request(route, generation ? model_.id() : "", status, seconds);
  if (!error_code.empty()) metrics_.error(error_code);
}

void Operations::attach(runtime::RequestId id, const std::string& client) {
  if (limiter_.limits().tokens_per_minute <= 0) return;
  std::lock_guard lock(clients_mu_);
  if (const auto it = unclaimed_.find(id); it != unclaimed_.end()) {
    limiter_.charge_tokens(client, it->second);
    unclaimed_.erase(it);
    return;
  }
  clients_[id] = client;
}

bool Operations::over_connection_limit() const {
  return config_.max_connections > 0 && metrics_.connections(ConnectionKind::kHttp) > config_.max_connections;
}

std::optional<StringResponse> Operations::refuse_connection(const std::string& rid) const {
  if (!over_connection_limit()) return std::nullopt;
  StringRequest dummy;
  dummy.version(11);
  const ApiError e(503, "OVERLOADED",
                   fmt::format("too many connections (the limit is {}): try again shortly", config_.max_connections));
  StringResponse res = plain_response(503, dummy, rid, "application/json", error_body(e, rid).dump() + "\n");
  res.set(http::field::retry_after, "1");
  res.keep_alive(false);
  return res;
}

std::string Operations::render_metrics() const {
  const runtime::EngineStats s = model_.engine().stats();
  return metrics_.render({s.queue_depth, s.active_sequences, s.kv_blocks_used, s.kv_blocks_total});
}

void Operations::on_token(runtime::RequestId, bool first, double seconds) {
  if (first) {
    metrics_.time_to_first_token(seconds);
  } else {
    metrics_.inter_token_latency(seconds);
  }
}

void Operations::on_finish(runtime::RequestId id, const runtime::TokenEvent& ev) {
  const auto& u = ev.usage;
  metrics_.generation_finished(static_cast<uint64_t>(u.prompt_tokens), static_cast<uint64_t>(u.generated_tokens),
                               reason_name(ev.reason));
  if (limiter_.limits().tokens_per_minute <= 0) return;
  const int64_t tokens = int64_t{u.prompt_tokens} + u.generated_tokens;
  std::lock_guard lock(clients_mu_);
  if (const auto it = clients_.find(id); it != clients_.end()) {
    limiter_.charge_tokens(it->second, tokens);
    clients_.erase(it);
    return;
  }
  if (unclaimed_.size() > 4096) unclaimed_.clear();  // requests no route attached: forget them
  unclaimed_[id] = tokens;
}

}  // namespace quarrel::server
