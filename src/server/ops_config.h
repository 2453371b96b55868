#pragma once
// The operational settings of `quarrel serve` (part of ServerConfig): API keys, rate limits,
// CORS, the connection limit, debug logging. Used by Operations (operations.h).
#include <string>

#include "server/rate_limiter.h"

namespace quarrel::server {

struct OpsConfig {
  std::string api_keys_file;  // "": no keys needed
  std::string cors;           // comma-separated origins or "*"; "": same-origin only
  RateLimits rate_limits;     // per key (or per client address without keys)
  int max_connections = 0;    // open HTTP connections; 0: no limit
  bool log_debug = false;     // log request bodies (prompts); keys are never logged
};

}  // namespace quarrel::server
