#include "server/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace quarrel::server {

RateLimiter::RateLimiter(RateLimits limits) : limits_(limits) {}

RateLimiter::Bucket& RateLimiter::bucket(const std::string& client, Clock::time_point now) {
  auto [it, inserted] = buckets_.try_emplace(client);
  Bucket& b = it->second;
  if (inserted) {
    b.requests = limits_.requests_per_minute;
    b.tokens = limits_.tokens_per_minute;
    b.last = now;
    return b;
  }
  const double dt = std::max(0.0, std::chrono::duration<double>(now - b.last).count());
  b.requests = std::min(limits_.requests_per_minute, b.requests + dt * limits_.requests_per_minute / 60.0);
  b.tokens = std::min(limits_.tokens_per_minute, b.tokens + dt * limits_.tokens_per_minute / 60.0);
  b.last = std::max(b.last, now);
  return b;
}

void RateLimiter::prune(Clock::time_point now) {
  if (buckets_.size() < 4096) return;
  // Buckets that refilled completely carry no state: drop them.
  std::erase_if(buckets_, [&](auto& kv) {
    const double dt = std::chrono::duration<double>(now - kv.second.last).count();
    return dt >= 60.0;
  });
}

int64_t RateLimiter::admit(const std::string& client, Clock::time_point now) {
  if (!limits_.any()) return 0;
  std::lock_guard lock(mu_);
  prune(now);
  Bucket& b = bucket(client, now);
  double wait = 0;
  if (limits_.requests_per_minute > 0 && b.requests < 1.0)
    wait = std::max(wait, (1.0 - b.requests) * 60.0 / limits_.requests_per_minute);
  if (limits_.tokens_per_minute > 0 && b.tokens <= 0.0)
    wait = std::max(wait, (-b.tokens + 1.0) * 60.0 / limits_.tokens_per_minute);
  if (wait > 0) return std::max<int64_t>(1, static_cast<int64_t>(std::ceil(wait)));
  if (limits_.requests_per_minute > 0) b.requests -= 1.0;
  return 0;
}

void RateLimiter::charge_tokens(const std::string& client, int64_t tokens, Clock::time_point now) {
  if (limits_.tokens_per_minute <= 0 || tokens <= 0) return;
  std::lock_guard lock(mu_);
  bucket(client, now).tokens -= static_cast<double>(tokens);
}

size_t RateLimiter::n_clients() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace quarrel::server
