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
#include <type_traits>
#include <variant>
#include <vector>

#include "apps/quarrel/command.h"
#include "apps/quarrel/default_model.h"
#include "apps/quarrel/kv_type_option.h"
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
  const GgmlType kv = parse_kv_type_option(a.kv_type);

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
  o.kv_type = kv;
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

// One option of quarrel serve: its names (CLI11 form), the environment variable that sets it
// when the flag is absent, the ServeArgs field it fills and its help line. A bool field is a
// flag, every other one takes a value.
struct ServeOption {
  const char* names;
  const char* env;
  std::variant<std::string ServeArgs::*, int ServeArgs::*, int64_t ServeArgs::*, double ServeArgs::*,
               bool ServeArgs::*>
      field;
  std::string help;
};

// In --help order.
const std::vector<ServeOption>& serve_options() {
  static const std::vector<ServeOption> options = {
      {"MODEL", "QUARREL_MODEL", &ServeArgs::model,
       "Model file (GGUF); default: the bundled demo model " + std::string(kDemoModel)},
      {"--host", "QUARREL_HOST", &ServeArgs::host, "Address to listen on (default 127.0.0.1)"},
      {"--port", "QUARREL_PORT", &ServeArgs::port, "Port (default 8080; 0: any free port)"},
      {"-c,--ctx", "QUARREL_CTX", &ServeArgs::ctx, "Context per sequence in tokens (0: the model's; default 4096)"},
      {"--parallel", "QUARREL_PARALLEL", &ServeArgs::parallel, "Sequences decoded at once (default 4)"},
      {"--queue,--queue-size", "QUARREL_QUEUE", &ServeArgs::queue, "Waiting requests before 503 (default 64)"},
      {"-t,--threads", "QUARREL_THREADS", &ServeArgs::threads, "Threads (default: the physical cores)"},
      {"-b,--batch", "QUARREL_BATCH", &ServeArgs::batch, "Tokens per forward pass (default 512)"},
      {"--kv-type", "QUARREL_KV_TYPE", &ServeArgs::kv_type, kKvTypeHelp},
      {"--backend,--device", "QUARREL_BACKEND", &ServeArgs::backend, "Backend: cpu or cuda (default cpu)"},
      {"--alias", "QUARREL_ALIAS", &ServeArgs::alias,
       "The model's id in the API (default: the file name without .gguf)"},
      {"--log-format", "QUARREL_LOG_FORMAT", &ServeArgs::log_format,
       "Log lines on stderr: text or json (default text)"},
      {"--timeout,--request-timeout", "QUARREL_TIMEOUT", &ServeArgs::timeout_s,
       "Request timeout in seconds (default 300)"},
      {"--grace", "QUARREL_GRACE", &ServeArgs::grace_s,
       "Seconds running requests get to finish on SIGTERM (default 10)"},
      {"--max-body", "QUARREL_MAX_BODY", &ServeArgs::body_limit, "Largest request body in bytes (default 8 MiB)"},
      {"--max-tokens", "QUARREL_MAX_TOKENS", &ServeArgs::max_tokens,
       "Largest max_tokens a request may ask for (0: the context)"},
      {"--api-keys", "QUARREL_API_KEYS", &ServeArgs::api_keys,
       "Key file (quarrel keys create): every route but /healthz needs Authorization: Bearer KEY; re-read when it "
       "changes"},
      {"--cors", "QUARREL_CORS", &ServeArgs::cors,
       "Allowed browser origins, comma-separated, or * (default: same-origin only)"},
      {"--rate-limit-rpm", "QUARREL_RATE_LIMIT_RPM", &ServeArgs::rpm,
       "Requests per minute per key (or client address); 0: no limit"},
      {"--rate-limit-tpm", "QUARREL_RATE_LIMIT_TPM", &ServeArgs::tpm,
       "Tokens (prompt + generated) per minute per key; 0: no limit"},
      {"--max-connections", "QUARREL_MAX_CONNECTIONS", &ServeArgs::max_connections,
       "Open connections before 503 (0: no limit)"},
      {"--idle-timeout", "QUARREL_IDLE_TIMEOUT", &ServeArgs::idle_timeout_s,
       "Seconds a connection may idle or send slowly (default 60)"},
      {"--log-debug", "QUARREL_LOG_DEBUG", &ServeArgs::log_debug, "Log request bodies, prompts included (keys never)"},
  };
  return options;
}

const RegisterCommand kServe{Command{
    "serve", "Serve a model over HTTP (OpenAI-compatible API)", [](CLI::App& sub) {
      auto a = std::make_shared<ServeArgs>();
      for (const ServeOption& o : serve_options()) {
        std::visit(
            [&](auto field) {
              auto& target = (*a).*field;
              CLI::Option* opt = nullptr;
              if constexpr (std::is_same_v<std::remove_reference_t<decltype(target)>, bool>)
                opt = sub.add_flag(o.names, target, o.help);
              else
                opt = sub.add_option(o.names, target, o.help);
              opt->envname(o.env);
            },
            o.field);
      }
      return [a] { return serve(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
