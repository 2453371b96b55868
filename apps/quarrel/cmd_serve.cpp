// quarrel serve [MODEL]: the HTTP API (OpenAI-compatible) on one model, with continuous batching
// across clients. Every option can also come from the environment (QUARREL_HOST, QUARREL_PORT,
// ...); a flag wins over the environment.
//
// Without MODEL (and without QUARREL_MODEL) it serves the bundled demo model,
// models/quarrel-demo-kjv-q8_0.gguf, looked up in the current directory first, then in each
// directory above the quarrel binary (so build/release/apps/quarrel/quarrel finds the source
// tree's models/ folder wherever it is started from).
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "apps/quarrel/command.h"
#include "apps/quarrel/default_model.h"
#include "core/error.h"
#include "core/log.h"
#include "runtime/engine.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/model_context.h"

namespace quarrel::cli {
namespace {

namespace fs = std::filesystem;

struct ServeArgs {
  std::string model, host = "127.0.0.1", log_format = "text", alias, kv_type = "f16", backend = "cpu";
  int port = 8080;
  int64_t ctx = 4096;
  int32_t parallel = 4, queue = 64, batch = 512, max_tokens = 0;
  int threads = 0;
  int64_t timeout_s = 300, grace_s = 10, body_limit = 8 << 20;
  // Operations (server/ops_config.h).
  std::string api_keys, cors;
  double rpm = 0, tpm = 0;
  int max_connections = 0;
  int64_t idle_timeout_s = 60;
  bool log_debug = false;
};

int serve(ServeArgs& a) {
  if (a.log_format != "text" && a.log_format != "json")
    fail(ErrorCode::kInvalidArgument, "--log-format must be text or json, got '{}'", a.log_format);
  server::set_log_format(a.log_format == "json" ? server::LogFormat::kJson : server::LogFormat::kText);
  log::set_format(a.log_format == "json" ? log::Format::kJson : log::Format::kText);  // the engine's lines too
  if (a.port < 0 || a.port > 65535) fail(ErrorCode::kInvalidArgument, "--port must be 0..65535, got {}", a.port);
  if (a.parallel < 1) fail(ErrorCode::kInvalidArgument, "--parallel must be at least 1, got {}", a.parallel);
  if (a.queue < 1) fail(ErrorCode::kInvalidArgument, "--queue must be at least 1, got {}", a.queue);
  if (a.batch < 1) fail(ErrorCode::kInvalidArgument, "--batch must be at least 1, got {}", a.batch);
  if (a.timeout_s < 1) fail(ErrorCode::kInvalidArgument, "--timeout must be at least 1 second, got {}", a.timeout_s);
  if (a.body_limit < 1024) fail(ErrorCode::kInvalidArgument, "--max-body must be at least 1024, got {}", a.body_limit);
  if (a.model.empty()) a.model = default_model();
  if (!runtime::is_backend_name(a.backend))
    fail(ErrorCode::kInvalidArgument, "--backend must be cpu or cuda, got '{}'", a.backend);
  const auto kv = parse_type_name(a.kv_type);
  if (!kv || (*kv != GgmlType::F16 && *kv != GgmlType::F32 && *kv != GgmlType::Q8_0))
    fail(ErrorCode::kInvalidArgument, "--kv-type must be f16, f32 or q8_0, got '{}'", a.kv_type);

  server::ServerConfig cfg;
  cfg.host = a.host;
  cfg.port = static_cast<uint16_t>(a.port);
  cfg.model_alias = a.alias;
  cfg.log_format = a.log_format;
  cfg.max_body_bytes = static_cast<size_t>(a.body_limit);
  cfg.max_tokens_limit = a.max_tokens;
  cfg.shutdown_grace = std::chrono::seconds(a.grace_s);
  if (a.rpm < 0 || a.tpm < 0) fail(ErrorCode::kInvalidArgument, "--rate-limit-rpm/--rate-limit-tpm must not be negative");
  if (a.max_connections < 0) fail(ErrorCode::kInvalidArgument, "--max-connections must not be negative");
  if (a.idle_timeout_s < 1) fail(ErrorCode::kInvalidArgument, "--idle-timeout must be at least 1 second");
  cfg.idle_timeout = std::chrono::seconds(a.idle_timeout_s);
  cfg.ops.api_keys_file = a.api_keys;
  cfg.ops.cors = a.cors;
  cfg.ops.rate_limits = {a.rpm, a.tpm};
  cfg.ops.max_connections = a.max_connections;
  cfg.ops.log_debug = a.log_debug;

  runtime::EngineOptions o;
  o.model_path = a.model;
  o.backend = a.backend;
  o.n_ctx = a.ctx;
  o.n_threads = a.threads;
  o.kv_type = *kv;
  o.engine.max_running = a.parallel;
  o.engine.max_queue = a.queue;
  o.engine.max_batch_tokens = a.batch;
  o.engine.default_timeout = std::chrono::seconds(a.timeout_s);
  server::log_line("INFO", "", "loading model", {{"path", a.model}, {"backend", a.backend}});
  std::unique_ptr<runtime::Engine> engine = runtime::load_engine(o);
  server::ModelContext model(*engine, a.alias);

  int code = 0;
  {
    server::HttpServer http(model, cfg);
    http.listen();  // before the engine starts: a taken port fails fast
    engine->start();
    const std::string url = fmt::format("http://{}:{}", a.host, http.port());
    server::log_line("INFO", "", "listening",
                     {{"url", url}, {"model", model.id()}, {"n_ctx", engine->n_ctx()}, {"parallel", a.parallel}});
    std::printf("quarrel serve: model %s at %s (OpenAI API under %s/v1)\n", model.id().c_str(), url.c_str(),
                url.c_str());
    std::fflush(stdout);
    code = http.run();
    engine->stop();  // before the server's executor goes away (event sinks post to it)
  }
  return code;
}

const RegisterCommand kServe{Command{
    "serve", "Serve a model over HTTP (OpenAI-compatible API)", [](CLI::App& sub) {
      auto a = std::make_shared<ServeArgs>();
      sub.add_option("MODEL", a->model, "Model file (GGUF); default: the bundled demo model " + std::string(kDemoModel))
          ->envname("QUARREL_MODEL");
      sub.add_option("--host", a->host, "Address to listen on (default 127.0.0.1)")->envname("QUARREL_HOST");
      sub.add_option("--port", a->port, "Port (default 8080; 0: any free port)")->envname("QUARREL_PORT");
      sub.add_option("-c,--ctx", a->ctx, "Context per sequence in tokens (0: the model's; default 4096)")
          ->envname("QUARREL_CTX");
      sub.add_option("--parallel", a->parallel, "Sequences decoded at once (default 4)")->envname("QUARREL_PARALLEL");
      sub.add_option("--queue,--queue-size", a->queue, "Waiting requests before 503 (default 64)")
          ->envname("QUARREL_QUEUE");
      sub.add_option("-t,--threads", a->threads, "Threads (default: the physical cores)")->envname("QUARREL_THREADS");
      sub.add_option("-b,--batch", a->batch, "Tokens per forward pass (default 512)")->envname("QUARREL_BATCH");
      sub.add_option("--kv-type", a->kv_type, "KV cache type: f16, f32 or q8_0 (default f16; cuda: f16 only)")
          ->envname("QUARREL_KV_TYPE");
      sub.add_option("--backend,--device", a->backend, "Backend: cpu or cuda (default cpu)")
          ->envname("QUARREL_BACKEND");
      sub.add_option("--alias", a->alias, "The model's id in the API (default: the file name without .gguf)")
          ->envname("QUARREL_ALIAS");
      sub.add_option("--log-format", a->log_format, "Log lines on stderr: text or json (default text)")
          ->envname("QUARREL_LOG_FORMAT");
      sub.add_option("--timeout,--request-timeout", a->timeout_s, "Request timeout in seconds (default 300)")
          ->envname("QUARREL_TIMEOUT");
      sub.add_option("--grace", a->grace_s, "Seconds running requests get to finish on SIGTERM (default 10)")
          ->envname("QUARREL_GRACE");
      sub.add_option("--max-body", a->body_limit, "Largest request body in bytes (default 8 MiB)")
          ->envname("QUARREL_MAX_BODY");
      sub.add_option("--max-tokens", a->max_tokens, "Largest max_tokens a request may ask for (0: the context)")
          ->envname("QUARREL_MAX_TOKENS");
      sub.add_option("--api-keys", a->api_keys, "Key file (quarrel keys create): every route but /healthz needs "
                     "Authorization: Bearer KEY; re-read when it changes")->envname("QUARREL_API_KEYS");
      sub.add_option("--cors", a->cors, "Allowed browser origins, comma-separated, or * (default: same-origin only)")
          ->envname("QUARREL_CORS");
      sub.add_option("--rate-limit-rpm", a->rpm, "Requests per minute per key (or client address); 0: no limit")
          ->envname("QUARREL_RATE_LIMIT_RPM");
      sub.add_option("--rate-limit-tpm", a->tpm, "Tokens (prompt + generated) per minute per key; 0: no limit")
          ->envname("QUARREL_RATE_LIMIT_TPM");
      sub.add_option("--max-connections", a->max_connections, "Open connections before 503 (0: no limit)")
          ->envname("QUARREL_MAX_CONNECTIONS");
      sub.add_option("--idle-timeout", a->idle_timeout_s, "Seconds a connection may idle or send slowly (default 60)")
          ->envname("QUARREL_IDLE_TIMEOUT");
      sub.add_flag("--log-debug", a->log_debug, "Log request bodies, prompts included (keys never)")
          ->envname("QUARREL_LOG_DEBUG");
      return [a] { return serve(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
