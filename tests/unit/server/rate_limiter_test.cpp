// Token-bucket rate limits on an explicit clock: burst, refill, Retry-After, per-client
// isolation, and tokens charged after the fact.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "server/rate_limiter.h"

namespace quarrel::server {
namespace {

using Clock = RateLimiter::Clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RateLimiter, NoLimitsAdmitsEverything) {
  RateLimiter r({});
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(r.admit("a"), 0);
  EXPECT_EQ(r.n_clients(), 0u);
}

TEST(RateLimiter, RequestsPerMinuteBurstThenRefill) {
  RateLimiter r({.requests_per_minute = 3});
  const auto t0 = Clock::now();
  EXPECT_EQ(r.admit("a", t0), 0);
  EXPECT_EQ(r.admit("a", t0), 0);
  EXPECT_EQ(r.admit("a", t0), 0);
  EXPECT_EQ(r.admit("a", t0), 20);  // one request every 20 s
  EXPECT_EQ(r.admit("a", t0 + seconds(5)), 15);
  EXPECT_EQ(r.admit("b", t0), 0);   // another client has its own bucket
  EXPECT_EQ(r.admit("a", t0 + seconds(20)), 0);
  EXPECT_EQ(r.admit("a", t0 + seconds(20)), 20);
  // A long pause refills only up to one minute's worth.
  const auto t1 = t0 + seconds(3600);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.admit("a", t1), 0);
  EXPECT_GT(r.admit("a", t1), 0);
}

TEST(RateLimiter, RetryAfterIsAtLeastOneSecond) {
  RateLimiter r({.requests_per_minute = 6000});  // 100 per second
  const auto t0 = Clock::now();
  for (int i = 0; i < 6000; ++i) ASSERT_EQ(r.admit("a", t0), 0);
  EXPECT_EQ(r.admit("a", t0), 1);
  EXPECT_EQ(r.admit("a", t0 + milliseconds(10)), 0);
}

TEST(RateLimiter, TokensChargedAfterwardsHoldTheNextRequests) {
  RateLimiter r({.tokens_per_minute = 60});  // one token per second
  const auto t0 = Clock::now();
  EXPECT_EQ(r.admit("a", t0), 0);
  r.charge_tokens("a", 50, t0);
  EXPECT_EQ(r.admit("a", t0), 0);  // 10 left: still positive
  r.charge_tokens("a", 40, t0);    // balance -30
  EXPECT_EQ(r.admit("a", t0), 31);  // until the balance is positive again
  EXPECT_EQ(r.admit("a", t0 + seconds(30)), 1);
  EXPECT_EQ(r.admit("a", t0 + seconds(31)), 0);
  EXPECT_EQ(r.admit("b", t0), 0);
}

TEST(RateLimiter, ThreadSafe) {
  RateLimiter r({.requests_per_minute = 1000, .tokens_per_minute = 1e9});
  const auto t0 = Clock::now();
  std::atomic<int> admitted{0};
  std::vector<std::thread> th;
  for (int t = 0; t < 4; ++t) {
    th.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        if (r.admit("a", t0) == 0) ++admitted;
        r.charge_tokens("a", 1, t0);
      }
    });
  }
  for (auto& x : th) x.join();
  EXPECT_EQ(admitted.load(), 1000);  // exactly the burst
}

}  // namespace
}  // namespace quarrel::server
