#pragma once
// The settings of `quarrel serve` (each from a flag or a QUARREL_* environment variable).
#include <chrono>
#include <cstdint>
#include <string>

#include "server/ops_config.h"

namespace quarrel::server {

struct ServerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;               // 0: any free port (the chosen one is logged)
  std::string model_alias;            // the model's id in the API; "" = the file's stem
  std::string log_format = "text";    // "text" or "json"
  size_t max_body_bytes = 8u << 20;   // bigger bodies get 413
  int32_t max_tokens_limit = 0;       // 0: no cap beyond the context
  std::chrono::seconds shutdown_grace{10};
  std::chrono::seconds idle_timeout{60};  // keep-alive / slow client read timeout
  OpsConfig ops;  // API keys, rate limits, CORS, connection limit, debug logs (operations.h)
};

}  // namespace quarrel::server
