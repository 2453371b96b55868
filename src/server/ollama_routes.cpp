// The Ollama-compatible routes: POST /api/generate, POST /api/chat (NDJSON streaming by
// default, one JSON object with "stream": false), GET /api/tags, POST /api/show, GET /api/ps,
// GET /api/version. Errors are Ollama's {"error": "message"} plus the code and request id.
#include <utility>  // before Boost: its awaitable.hpp uses std::exchange without it

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <filesystem>
#include <fmt/format.h>

#include "gguf/file_type.h"
#include "server/api_error.h"
#include "server/generation.h"
#include "server/log.h"
#include "server/ollama_request.h"
#include "server/ollama_response.h"
#include "server/route.h"

namespace quarrel::server {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using json = nlohmann::json;
using net::awaitable;
using net::use_awaitable;

constexpr const char* kOllamaVersion = "0.6.4";  // the Ollama API version these routes follow

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// ---- model description (tags, show, ps) ----

std::string parameter_size(uint64_t n) {
  if (n >= 1000000000ull) return fmt::format("{:.1f}B", n / 1e9);
  if (n >= 1000000ull) return fmt::format("{:.1f}M", n / 1e6);
  if (n >= 1000ull) return fmt::format("{:.1f}K", n / 1e3);
  return std::to_string(n);
}

json model_details(const ModelContext& m) {
  const auto& file = m.engine().model().file();
  uint64_t n_params = 0;
  for (const auto& t : file.tensors()) n_params += t.n_elements();
  std::string quant = "unknown";
  if (const auto* ft = file.find("general.file_type"); ft && ft->is_integer()) {
    if (auto name = gguf::file_type_name(static_cast<uint32_t>(ft->as_uint()))) {
      quant = std::string(*name);
      if (quant.rfind("MOSTLY_", 0) == 0) quant = quant.substr(7);
      if (quant.rfind("ALL_", 0) == 0) quant = quant.substr(4);
    }
  }
  const std::string arch = file.architecture();
  return {{"parent_model", ""}, {"format", "gguf"}, {"family", arch}, {"families", json::array({arch})},
          {"parameter_size", parameter_size(n_params)}, {"quantization_level", quant}};
}

std::string modified_at(const std::string& path) {
  std::error_code ec;
  const auto ft = std::filesystem::last_write_time(path, ec);
  if (ec) return rfc3339_now();
  const auto sys = std::chrono::file_clock::to_sys(ft);
  const std::time_t t = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::system_clock::duration>(sys));
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

// Not Ollama's sha256 of the blob (hashing a multi-GB file per request is not worth it): a
// stable id of this file (name and size).
std::string digest(const ModelContext& m) {
  const auto size = m.engine().model().file().file_size();
  return fmt::format("{:016x}", std::hash<std::string>{}(m.path() + "#" + std::to_string(size)));
}

json model_entry(const ModelContext& m) {
  return {{"name", m.id()}, {"model", m.id()}, {"modified_at", modified_at(m.path())},
          {"size", m.engine().model().file().file_size()}, {"digest", digest(m)}, {"details", model_details(m)}};
}

json model_info(const ModelContext& m) {
  json info = json::object();
  uint64_t n_params = 0;
  for (const auto& t : m.engine().model().file().tensors()) n_params += t.n_elements();
  for (const auto& [key, v] : m.engine().model().file().metadata()) {
    if (v.is_string()) {
      if (key != "tokenizer.chat_template") info[key] = v.as_string();
    } else if (v.is_bool()) {
      info[key] = v.as_bool();
    } else if (v.is_float()) {
      info[key] = v.as_float();
    } else if (v.is_integer()) {
      try {
        info[key] = v.as_int();
      } catch (const std::exception&) {
        info[key] = v.as_uint();
      }
    } else {
      info[key] = nullptr;  // arrays (the vocabulary, ...) are left out, as Ollama does
    }
  }
  info["general.parameter_count"] = n_params;
  return info;
}

// ---- routes ----

awaitable<bool> answer_error(RouteContext& ctx, const ApiError& e) {
  log_line(e.status() >= 500 ? "WARN" : "INFO", ctx.rid, "request failed",
           {{"code", e.code()}, {"status", e.status()}, {"error", e.what()}});
  auto res = make_response(ctx, static_cast<unsigned>(e.status()), "application/json",
                           dump(ollama_error_body(e, ctx.rid)) + "\n");
  if (e.code() == "OVERLOADED") res.set(http::field::retry_after, "1");
  co_return co_await respond(ctx, std::move(res));
}

awaitable<bool> generate(RouteContext& ctx, bool chat) {
  OllamaRequest o;
  std::unique_ptr<Generation> gen;
  std::optional<ApiError> err;
  try {
    o = parse_ollama_request(nlohmann::ordered_json::parse(ctx.req.body()), chat, ctx.model, ctx.cfg.max_tokens_limit);
    if (!o.load_only) gen = Generation::start(ctx, o.request, /*watch_socket=*/true);
  } catch (const ApiError& e) {
    err = e;
  } catch (const nlohmann::json::exception& e) {
    err = invalid_request(fmt::format("the body is not valid JSON: {}", e.what()));
  }
  if (err) co_return co_await answer_error(ctx, *err);
  OllamaFormatter out(o);
  if (o.load_only) co_return co_await respond_json(ctx, 200, out.load_only());

  if (!o.stream) {
    runtime::TokenEvent ev;
    for (;;) {
      ev = co_await gen->next();
      if (ev.final) break;
      out.chunk(ev);
    }
    if (ev.reason == runtime::StopReason::kError) co_return co_await answer_error(ctx, ApiError(500, "INFERENCE_ERROR", ev.error));
    if (ev.reason == runtime::StopReason::kCancelled && ctx.draining)
      co_return co_await answer_error(ctx, ApiError(503, "OVERLOADED", "the server shut down before the answer was complete"));
    co_return co_await respond_json(ctx, 200, out.final(ev));
  }

  http::response<http::empty_body> res{http::status::ok, ctx.req.version()};
  res.set(http::field::content_type, "application/x-ndjson");
  res.keep_alive(ctx.req.keep_alive());
  if (ctx.decorate) ctx.decorate(res.base());
  res.chunked(true);
  ctx.status = 200;
  http::response_serializer<http::empty_body> sr{res};
  beast::error_code ec;
  ctx.stream.expires_after(std::chrono::seconds(60));
  co_await http::async_write_header(ctx.stream, sr, net::redirect_error(use_awaitable, ec));
  if (ec) co_return false;
  for (;;) {
    runtime::TokenEvent ev = co_await gen->next();
    json line;
    if (!ev.final) {
      line = out.chunk(ev);
      if (line.is_null()) continue;
    } else if (ev.reason == runtime::StopReason::kError) {
      line = ollama_error_body(ApiError(500, "INFERENCE_ERROR", ev.error), ctx.rid);
    } else {
      line = out.final(ev);
    }
    ctx.stream.expires_after(std::chrono::seconds(60));
    co_await net::async_write(ctx.stream, http::make_chunk(net::buffer(dump(line) + "\n")),
                              net::redirect_error(use_awaitable, ec));
    if (ec) co_return false;  // the Generation's destructor cancels the request
    if (ev.final) break;
  }
  co_await net::async_write(ctx.stream, http::make_chunk_last(), net::redirect_error(use_awaitable, ec));
  ctx.stream.expires_never();
  co_return !ec && ctx.req.keep_alive();
}

awaitable<bool> show(RouteContext& ctx) {
  std::optional<ApiError> err;
  try {
    const auto body = nlohmann::ordered_json::parse(ctx.req.body());
    if (!body.is_object()) throw invalid_request("the body must be a JSON object");
    std::string name;
    for (const char* key : {"model", "name"}) {
      auto it = body.find(key);
      if (it != body.end() && it->is_string()) name = it->get<std::string>();
      else if (it != body.end() && !it->is_null()) throw invalid_request(std::string(key) + ": must be a string");
      if (!name.empty()) break;
    }
    if (name.empty()) throw invalid_request("model: required");
    if (!ctx.model.matches(name))
      throw ApiError(404, "MODEL_NOT_FOUND", fmt::format("model '{}' not found", name));
  } catch (const ApiError& e) {
    err = e;
  } catch (const nlohmann::json::exception& e) {
    err = invalid_request(fmt::format("the body is not valid JSON: {}", e.what()));
  }
  if (err) co_return co_await answer_error(ctx, *err);
  const ModelContext& m = ctx.model;
  json j = {{"modelfile", fmt::format("# Served by quarrel\nFROM {}\n", m.path())},
            {"parameters", ""},
            {"template", m.template_source()},
            {"details", model_details(m)},
            {"model_info", model_info(m)},
            {"capabilities", json::array({"completion"})},
            {"modified_at", modified_at(m.path())}};
  co_return co_await respond_json(ctx, 200, j);
}

}  // namespace

std::vector<Route> ollama_routes() {
  using V = http::verb;
  return {
      {V::post, "/api/generate", [](RouteContext& ctx) { return generate(ctx, false); }},
      {V::post, "/api/chat", [](RouteContext& ctx) { return generate(ctx, true); }},
      {V::post, "/api/show", [](RouteContext& ctx) { return show(ctx); }},
      {V::get, "/api/tags",
       [](RouteContext& ctx) { return respond_json(ctx, 200, {{"models", json::array({model_entry(ctx.model)})}}); }},
      {V::get, "/api/ps",
       [](RouteContext& ctx) {
         json e = model_entry(ctx.model);
         e["expires_at"] = "2318-01-01T00:00:00Z";  // loaded for as long as the server runs
         e["size_vram"] = 0;
         return respond_json(ctx, 200, {{"models", json::array({e})}});
       }},
      {V::get, "/api/version", [](RouteContext& ctx) { return respond_json(ctx, 200, {{"version", kOllamaVersion}}); }},
  };
}

}  // namespace quarrel::server
