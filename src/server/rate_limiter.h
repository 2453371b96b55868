#pragma once
// Per-client rate limits (a client is an API key's name, or the peer address without keys):
// requests per minute and tokens per minute, each a token bucket holding one minute's worth
// (so a burst of a minute's allowance passes, then the steady rate).
//
// A request takes one unit from the request bucket and needs a positive token balance; the
// tokens a generation used (prompt + generated) are charged when it ends, so the balance may go
// negative and the next requests wait until it refills. admit() answers 0 (go) or the seconds
// to wait (>= 1, for Retry-After). Thread-safe: the engine thread charges tokens.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace quarrel::server {

struct RateLimits {
  double requests_per_minute = 0;  // 0: no limit
  double tokens_per_minute = 0;    // 0: no limit
  bool any() const { return requests_per_minute > 0 || tokens_per_minute > 0; }
};

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimits limits);

  // 0: allowed (and counted); otherwise the whole seconds until it would be.
  int64_t admit(const std::string& client, Clock::time_point now = Clock::now());
  void charge_tokens(const std::string& client, int64_t tokens, Clock::time_point now = Clock::now());
  const RateLimits& limits() const { return limits_; }
  size_t n_clients() const;

 private:
  struct Bucket {
    double requests = 0;  // units left
    double tokens = 0;    // balance (may be negative)
    Clock::time_point last{};
  };
  Bucket& bucket(const std::string& client, Clock::time_point now);  // refilled to `now`
  void prune(Clock::time_point now);

  RateLimits limits_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace quarrel::server
