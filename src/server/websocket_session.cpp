#include "server/websocket_session.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <deque>
#include <fmt/format.h>
#include <map>

#include "server/api_error.h"
#include "server/generation.h"
#include "server/log.h"
#include "server/openai_request.h"

namespace quarrel::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using ojson = nlohmann::ordered_json;
using net::awaitable;
using net::use_awaitable;
using Clock = std::chrono::steady_clock;

constexpr size_t kMaxGenerationsPerConnection = 16;
constexpr size_t kMaxOutboxBytes = 64u << 20;  // a client that stops reading is dropped

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json message(const std::string& type, const json& id, json payload) {
  return {{"type", type}, {"id", id}, {"payload", std::move(payload)}};
}

json error_message(const json& id, const std::string& code, const std::string& text) {
  return message("error", id, {{"code", code}, {"message", text}});
}

struct InferenceRequest {
  runtime::Request request;
  bool stream = true;
};

InferenceRequest parse_inference(const ojson& payload, const RouteContext& ctx) {
  if (!payload.is_object()) throw invalid_request("payload: must be an object");
  InferenceRequest in;
  const std::string model = string_field(payload, "model", "payload.", "");
  if (!model.empty() && !ctx.model.matches(model))
    throw ApiError(404, "MODEL_NOT_FOUND", fmt::format("model '{}' is not served here (try '{}')", model, ctx.model.id()));
  runtime::Request& r = in.request;
  read_sampling_fields(payload, "payload.", r.sampling);
  r.sampling.top_k = static_cast<int32_t>(integer_field(payload, "topk", "payload.", r.sampling.top_k));
  r.sampling.top_p = static_cast<float>(number_field(payload, "topp", "payload.", r.sampling.top_p));
  if (r.sampling.top_p <= 0 || r.sampling.top_p > 1) throw invalid_request("payload.topp: must be in (0, 1]");
  int64_t max_tokens = integer_field(payload, "max_tokens", "payload.", -1);
  if (max_tokens < -1) throw invalid_request("payload.max_tokens: must be 0 or more (-1: no limit)");
  const int32_t cap = ctx.cfg.max_tokens_limit;
  if (cap > 0 && (max_tokens < 0 || max_tokens > cap)) max_tokens = cap;
  r.max_tokens = static_cast<int32_t>(std::min<int64_t>(max_tokens, INT32_MAX));
  r.stop = stop_field(payload, "stop", "payload.");
  in.stream = bool_field(payload, "stream", "payload.", true);
  r.ignore_eos = bool_field(payload, "ignore_eos", "payload.", false);
  auto messages = payload.find("messages");
  if (messages != payload.end() && !messages->is_null()) {
    if (!messages->is_array() || messages->empty()) throw invalid_request("payload.messages: must be a non-empty array");
    ojson msgs = ojson::array();
    for (size_t i = 0; i < messages->size(); ++i) {
      const ojson& m = (*messages)[i];
      const std::string where = fmt::format("payload.messages[{}].", i);
      if (!m.is_object()) throw invalid_request(where + ": must be an object");
      msgs.push_back({{"role", string_field(m, "role", where, "user")}, {"content", string_field(m, "content", where, "")}});
    }
    r.prompt = ctx.model.chat_tokens(msgs);
  } else {
    r.prompt_text = string_field(payload, "prompt", "payload.", "");
    if (r.prompt_text.empty()) throw invalid_request("payload: needs a prompt (a string) or messages");
  }
  try {
    sampling::validate(r.sampling, ctx.model.n_vocab());
  } catch (const std::exception& e) {
    throw invalid_request(std::string("payload: ") + e.what());
  }
  return in;
}

// One connection: the reader (the route's coroutine), a writer coroutine draining the outbox
// (Beast allows one write at a time) and one coroutine per running generation.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(RouteContext& ctx, websocket::stream<beast::tcp_stream&>& ws)
      : ctx_(ctx), ws_(ws), wake_writer_(ctx.stream.get_executor()), wake_reader_(ctx.stream.get_executor()) {}

  awaitable<void> run() {
    writing_ = true;  // until the writer has ended
    net::co_spawn(ctx_.stream.get_executor(), writer(shared_from_this()), net::detached);
    beast::flat_buffer buffer;
    for (;;) {
      beast::error_code ec;
      co_await ws_.async_read(buffer, net::redirect_error(use_awaitable, ec));
      if (ec || closed_) break;
      std::string text = beast::buffers_to_string(buffer.data());
      buffer.consume(buffer.size());
      on_message(text);
    }
    closed_ = true;
    for (auto& [id, gen] : running_) gen->cancel();
    wake_writer_.cancel();
    // The generation and writer coroutines refer to the stream: wait for them to end.
    while (!running_.empty() || writing_) {
      wake_reader_.expires_after(std::chrono::milliseconds(20));
      beast::error_code ec;
      co_await wake_reader_.async_wait(net::redirect_error(use_awaitable, ec));
    }
    log_line("INFO", ctx_.rid, "websocket closed", {{"generations", n_started_}});
  }

 private:
  void send(const json& m) {
    if (closed_) return;
    outbox_bytes_ += outbox_.emplace_back(dump(m)).size();
    if (outbox_bytes_ > kMaxOutboxBytes) {
      closed_ = true;  // the client is not reading; end the session
      beast::get_lowest_layer(ws_).cancel();
    }
    wake_writer_.cancel();
  }

  static awaitable<void> writer(std::shared_ptr<Session> self) {
    while (!self->closed_ || !self->outbox_.empty()) {
      if (self->outbox_.empty()) {
        self->wake_writer_.expires_at(net::steady_timer::time_point::max());
        beast::error_code ec;
        co_await self->wake_writer_.async_wait(net::redirect_error(use_awaitable, ec));
        continue;
      }
      std::string text = std::move(self->outbox_.front());
      self->outbox_.pop_front();
      self->outbox_bytes_ -= text.size();
      if (self->closed_) continue;  // nobody to send to
      self->ws_.text(true);
      beast::error_code ec;
      co_await self->ws_.async_write(net::buffer(text), net::redirect_error(use_awaitable, ec));
      if (ec) {
        self->closed_ = true;
        beast::get_lowest_layer(self->ws_).cancel();  // ends the reader too
      }
    }
    self->writing_ = false;
  }

  void on_message(const std::string& text) {
    ojson m;
    try {
      m = ojson::parse(text);
    } catch (const std::exception& e) {
      send(error_message(nullptr, "INVALID_REQUEST", fmt::format("the message is not valid JSON: {}", e.what())));
      return;
    }
    if (!m.is_object() || !m.contains("type") || !m["type"].is_string()) {
      send(error_message(nullptr, "INVALID_REQUEST", "a message is an object {\"type\", \"id\", \"payload\"}"));
      return;
    }
    const std::string type = m["type"];
    json id = m.contains("id") ? json(m["id"]) : json(nullptr);
    if (!id.is_null() && !id.is_string() && !id.is_number_integer()) {
      send(error_message(nullptr, "INVALID_REQUEST", "id: must be a string or an integer"));
      return;
    }
    const ojson payload = m.contains("payload") && !m["payload"].is_null() ? m["payload"] : ojson::object();
    if (type == "ping") {
      send(message("pong", id, {{"time", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()}}));
    } else if (type == "status") {
      const auto st = ctx_.model.engine().stats();
      send(message("status", id,
                   {{"model", ctx_.model.id()}, {"ready", ctx_.model.engine().running() && !ctx_.draining},
                    {"n_ctx", ctx_.model.engine().n_ctx()}, {"generations", running_.size()},
                    {"engine", {{"queue_depth", st.queue_depth}, {"active_sequences", st.active_sequences}}}}));
    } else if (type == "metrics") {
      const auto st = ctx_.model.engine().stats();
      send(message("metrics", id,
                   {{"queue_depth", st.queue_depth}, {"active_sequences", st.active_sequences},
                    {"kv_blocks_total", st.kv_blocks_total}, {"kv_blocks_used", st.kv_blocks_used},
                    {"kv_blocks_cached", st.kv_blocks_cached}, {"requests_submitted", st.requests_submitted},
                    {"requests_rejected", st.requests_rejected}, {"requests_finished", st.requests_finished},
                    {"prompt_tokens", st.prompt_tokens}, {"cached_prompt_tokens", st.cached_prompt_tokens},
                    {"generated_tokens", st.generated_tokens}, {"iterations", st.iterations},
                    {"preemptions", st.preemptions}}));
    } else if (type == "stop") {
      auto it = running_.find(id.dump());
      if (it == running_.end()) {
        send(error_message(id, "INVALID_REQUEST", fmt::format("stop: no running generation has id {}", id.dump())));
        return;
      }
      it->second->cancel();
    } else if (type == "inference") {
      start_inference(id, payload);
    } else {
      send(error_message(id, "INVALID_REQUEST",
                         fmt::format("type '{}': must be inference, stop, status, metrics or ping", type)));
    }
  }

  void start_inference(json id, const ojson& payload) {
    if (id.is_null()) id = fmt::format("gen-{}", n_started_ + 1);
    const std::string key = id.dump();
    try {
      if (running_.count(key)) throw invalid_request(fmt::format("id {}: a generation with this id is running", key));
      if (running_.size() >= kMaxGenerationsPerConnection)
        throw ApiError(429, "RATE_LIMITED", fmt::format("at most {} generations at once per connection",
                                                        kMaxGenerationsPerConnection));
      if (ctx_.draining) throw ApiError(503, "OVERLOADED", "the server is shutting down");
      InferenceRequest in = parse_inference(payload, ctx_);
      auto gen = Generation::start(ctx_.model, ctx_.stream.get_executor(), std::move(in.request), ctx_.track);
      Generation* g = gen.get();
      running_.emplace(key, std::move(gen));
      ++n_started_;
      net::co_spawn(ctx_.stream.get_executor(), generate(shared_from_this(), id, key, g, in.stream), net::detached);
    } catch (const ApiError& e) {
      send(error_message(id, e.code(), e.what()));
    }
  }

  static awaitable<void> generate(std::shared_ptr<Session> self, json id, std::string key, Generation* gen,
                                  bool stream) {
    const auto t0 = Clock::now();
    int32_t n = 0;
    std::string text;
    for (;;) {
      runtime::TokenEvent ev = co_await gen->next();
      if (!ev.final) {
        // Tokens so far over the time since the request was submitted (events can arrive in
        // bursts, so the gaps between them say little).
        ++n;
        const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
        const double tps = secs > 0 ? n / secs : 0;
        if (stream)
          self->send(message("inference", id,
                             {{"token", ev.text}, {"token_id", ev.token}, {"complete", false}, {"tokens_per_sec", tps}}));
        else
          text += ev.text;
        continue;
      }
      if (ev.reason == runtime::StopReason::kError) {
        self->send(error_message(id, "INFERENCE_ERROR", ev.error));
      } else {
        json p = {{"token", ev.text}, {"complete", true}, {"finish_reason", finish_reason(ev.reason)},
                  {"tokens_per_sec", ev.timings.generate_tokens_per_second(ev.usage)},
                  {"usage", {{"prompt_tokens", ev.usage.prompt_tokens}, {"completion_tokens", ev.usage.generated_tokens}}},
                  {"seconds", std::chrono::duration<double>(Clock::now() - t0).count()}};
        if (!stream) p["text"] = text + ev.text;
        self->send(message("inference", id, std::move(p)));
      }
      break;
    }
    self->running_.erase(key);
  }

  RouteContext& ctx_;
  websocket::stream<beast::tcp_stream&>& ws_;
  net::steady_timer wake_writer_, wake_reader_;
  std::deque<std::string> outbox_;
  size_t outbox_bytes_ = 0;
  bool closed_ = false, writing_ = false;
  std::map<std::string, std::unique_ptr<Generation>> running_;  // by the id's JSON text
  uint64_t n_started_ = 0;
};

}  // namespace

awaitable<bool> websocket_session(RouteContext& ctx) {
  if (!websocket::is_upgrade(ctx.req))
    throw invalid_request("/ws: expects a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)");
  websocket::stream<beast::tcp_stream&> ws(ctx.stream);
  ctx.stream.expires_never();
  websocket::stream_base::timeout t = websocket::stream_base::timeout::suggested(beast::role_type::server);
  t.idle_timeout = std::max<std::chrono::seconds>(ctx.cfg.idle_timeout, std::chrono::seconds(2));
  t.keep_alive_pings = true;  // ping an idle client at half the idle timeout
  ws.set_option(t);
  ws.read_message_max(ctx.cfg.max_body_bytes);
  auto decorate = ctx.decorate;
  ws.set_option(websocket::stream_base::decorator([decorate](websocket::response_type& res) {
    if (decorate) decorate(res.base());
  }));
  beast::error_code ec;
  co_await ws.async_accept(ctx.req, net::redirect_error(use_awaitable, ec));
  if (ec) co_return false;
  ctx.status = 101;
  log_line("INFO", ctx.rid, "websocket open");
  auto session = std::make_shared<Session>(ctx, ws);
  co_await session->run();
  co_return false;
}

std::vector<Route> websocket_routes() {
  return {{boost::beast::http::verb::get, "/ws", [](RouteContext& ctx) { return websocket_session(ctx); }}};
}

}  // namespace quarrel::server
