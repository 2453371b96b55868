// A request's life in the engine: limits (max_tokens, context), cancellation, timeouts, the
// bounded queue, priorities, bad requests, event sinks and the stats snapshot.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "engine_fixture.h"

namespace quarrel::runtime {
namespace {
using namespace test_support;
using namespace std::chrono_literals;

Request greedy_request(std::vector<TokenId> prompt, int32_t max_tokens) {
  Request r;
  r.prompt = std::move(prompt);
  r.max_tokens = max_tokens;
  r.sampling = greedy();
  return r;
}

std::vector<TokenId> prompt_of(size_t n, uint64_t salt = 0) {
  std::mt19937_64 rng(1234 + salt);
  return random_prompt(rng, n);
}

TEST(EngineLifecycle, MaxTokensIsRespected) {
  auto e = tiny_engine({}, 32);
  for (int32_t n : {1, 2, 7}) {
    auto h = e->submit(greedy_request(prompt_of(5), n));
    e->run_until_idle();
    Collected c = collect(*h);
    EXPECT_EQ(c.tokens.size(), static_cast<size_t>(n));
    EXPECT_EQ(c.final.reason, StopReason::kLength);
    EXPECT_EQ(c.final.usage.generated_tokens, n);
    EXPECT_EQ(c.final.usage.prompt_tokens, 5);
    EXPECT_TRUE(h->finished());
  }
  // Zero tokens: answered at once, nothing runs.
  auto h = e->submit(greedy_request(prompt_of(5), 0));
  Collected c = collect(*h);
  EXPECT_TRUE(c.tokens.empty());
  EXPECT_EQ(c.final.reason, StopReason::kLength);
  EXPECT_FALSE(e->step());
}

TEST(EngineLifecycle, ContextFullEndsTheRequest) {
  auto e = tiny_engine({.n_ctx = 16}, 4);
  auto h = e->submit(greedy_request(prompt_of(10), -1));
  e->run_until_idle();
  Collected c = collect(*h);
  EXPECT_EQ(c.final.reason, StopReason::kContextFull);
  EXPECT_EQ(c.tokens.size(), 6u);  // prompt + generated == n_ctx
  EXPECT_EQ(e->stats().kv_blocks_used, 0);
}

TEST(EngineLifecycle, CancelWhileRunningFreesItsBlocks) {
  auto e = tiny_engine({.max_running = 2}, 64);
  e->start();
  auto h = e->submit(greedy_request(prompt_of(40), -1));  // would run to the end of the context
  TokenEvent ev;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(h->next(ev));
    ASSERT_FALSE(ev.final);
  }
  EXPECT_GT(e->stats().kv_blocks_used, 0);
  h->cancel();
  Collected rest = collect(*h);
  EXPECT_EQ(rest.final.reason, StopReason::kCancelled);
  EXPECT_GE(rest.final.usage.generated_tokens, 3);
  // The blocks are free by the time the final event is out (idle prefix-cache blocks aside).
  const EngineStats st = e->stats();
  EXPECT_EQ(st.kv_blocks_used, 0);
  EXPECT_EQ(st.active_sequences, 0);
  EXPECT_EQ(st.kv_blocks_used + st.kv_blocks_cached <= st.kv_blocks_total, true);
}

TEST(EngineLifecycle, CancelWhileWaitingEndsWithoutTokens) {
  auto e = tiny_engine({.max_running = 1}, 32);
  auto a = e->submit(greedy_request(prompt_of(4), 5));
  auto b = e->submit(greedy_request(prompt_of(4, 1), 5));
  ASSERT_TRUE(e->step());  // a runs, b waits
  EXPECT_EQ(e->stats().queue_depth, 1);
  b->cancel();
  e->run_until_idle();
  Collected cb = collect(*b);
  EXPECT_EQ(cb.final.reason, StopReason::kCancelled);
  EXPECT_TRUE(cb.tokens.empty());
  EXPECT_EQ(cb.final.usage.generated_tokens, 0);
  EXPECT_EQ(collect(*a).final.reason, StopReason::kLength);
}

TEST(EngineLifecycle, QueueOverflowIsRejectedAtOnce) {
  auto e = tiny_engine({.max_running = 1, .max_queue = 2}, 32);
  auto a = e->submit(greedy_request(prompt_of(4), 2));
  auto b = e->submit(greedy_request(prompt_of(4), 2));
  EXPECT_THROW(e->submit(greedy_request(prompt_of(4), 2)), OverloadedError);
  EXPECT_EQ(e->stats().requests_rejected, 1u);
  EXPECT_EQ(e->stats().queue_depth, 2);
  // One admitted leaves room for one more.
  ASSERT_TRUE(e->step());
  auto c = e->submit(greedy_request(prompt_of(4), 2));
  EXPECT_THROW(e->submit(greedy_request(prompt_of(4), 2)), OverloadedError);
  e->run_until_idle();
  for (auto* h : {a.get(), b.get(), c.get()}) EXPECT_EQ(collect(*h).final.reason, StopReason::kLength);
}

TEST(EngineLifecycle, TimeoutEndsAWaitingRequest) {
  auto e = tiny_engine({.max_running = 1}, 32);
  auto a = e->submit(greedy_request(prompt_of(4), 3));
  Request r = greedy_request(prompt_of(4, 1), 3);
  r.timeout = 1ms;
  auto b = e->submit(r);
  ASSERT_TRUE(e->step());
  std::this_thread::sleep_for(5ms);
  e->run_until_idle();
  EXPECT_EQ(collect(*b).final.reason, StopReason::kTimeout);
  EXPECT_EQ(collect(*a).final.reason, StopReason::kLength);
}

TEST(EngineLifecycle, TimeoutEndsARunningRequestAndFreesItsBlocks) {
  auto e = tiny_engine({.default_timeout = 50ms}, 64);
  e->start();
  auto h = e->submit(greedy_request(prompt_of(8), -1));
  const auto t0 = std::chrono::steady_clock::now();
  Collected c = collect(*h);
  EXPECT_EQ(c.final.reason, StopReason::kTimeout);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  EXPECT_EQ(e->stats().kv_blocks_used, 0);
}

TEST(EngineLifecycle, InteractiveRequestsGoFirst) {
  auto e = tiny_engine({.max_running = 1}, 32);
  std::vector<RequestId> order;
  std::mutex mu;
  auto sink = [&](TokenEvent&& ev) {
    if (!ev.final) return;
    std::lock_guard lock(mu);
    order.push_back(ev.request);
  };
  Request batch1 = greedy_request(prompt_of(4), 2);
  batch1.priority = Priority::kBatch;
  Request batch2 = batch1;
  Request inter = greedy_request(prompt_of(4, 3), 2);
  auto b1 = e->submit(batch1, sink);
  auto b2 = e->submit(batch2, sink);
  auto i1 = e->submit(inter, sink);
  e->run_until_idle();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order, (std::vector<RequestId>{i1->id(), b1->id(), b2->id()}));
  EXPECT_TRUE(b2->finished());
}

TEST(EngineLifecycle, SinkGetsEveryEventOnTheEngineThread) {
  auto e = tiny_engine({}, 32);
  e->start();
  std::atomic<int> tokens{0};
  std::atomic<bool> other_thread{true};
  const auto caller = std::this_thread::get_id();
  auto h = e->submit(greedy_request(prompt_of(6), 9), [&](TokenEvent&& ev) {
    if (std::this_thread::get_id() == caller) other_thread = false;
    if (!ev.final) ++tokens;
  });
  h->wait_finished();
  EXPECT_EQ(tokens.load(), 9);
  EXPECT_TRUE(other_thread.load());
  TokenEvent ev;
  EXPECT_EQ(h->next_for(ev, 1ms), RequestHandle::Wait::kTimeout);  // events went to the sink
}

TEST(EngineLifecycle, BadRequestsAreRefusedAtSubmit) {
  auto e = tiny_engine({.n_ctx = 64}, 8);
  EXPECT_THROW(e->submit(greedy_request({}, 4)), Error);
  EXPECT_THROW(e->submit(greedy_request({1, 2, static_cast<TokenId>(kTinyVocab)}, 4)), Error);
  EXPECT_THROW(e->submit(greedy_request({-1}, 4)), Error);
  EXPECT_THROW(e->submit(greedy_request(prompt_of(64), 4)), ContextOverflowError);
  Request bad = greedy_request(prompt_of(4), 4);
  bad.sampling.repeat_penalty = 0;
  EXPECT_THROW(e->submit(bad), Error);
  Request text;
  text.prompt_text = "no tokenizer here";
  EXPECT_THROW(e->submit(text), Error);
  EXPECT_EQ(e->stats().requests_submitted, 0u);
  EXPECT_FALSE(e->step());
}

TEST(EngineLifecycle, StopEndsEverythingAndRefusesMore) {
  auto e = tiny_engine({.max_running = 1}, 32);
  auto a = e->submit(greedy_request(prompt_of(4), 50));
  auto b = e->submit(greedy_request(prompt_of(4), 50));
  ASSERT_TRUE(e->step());
  e->stop();
  EXPECT_EQ(collect(*a).final.reason, StopReason::kCancelled);
  EXPECT_EQ(collect(*b).final.reason, StopReason::kCancelled);
  EXPECT_THROW(e->submit(greedy_request(prompt_of(4), 1)), Error);
  EXPECT_EQ(e->stats().kv_blocks_used, 0);
}

TEST(EngineLifecycle, StatsAddUp) {
  auto e = tiny_engine({.max_running = 2}, 32);
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (int i = 0; i < 4; ++i) hs.push_back(e->submit(greedy_request(prompt_of(5, static_cast<uint64_t>(i)), 3)));
  EXPECT_EQ(e->stats().queue_depth, 4);
  ASSERT_TRUE(e->step());
  EngineStats mid = e->stats();
  EXPECT_EQ(mid.active_sequences, 2);
  EXPECT_EQ(mid.queue_depth, 2);
  EXPECT_GT(mid.kv_blocks_used, 0);
  EXPECT_EQ(mid.kv_blocks_total, 32);
  e->run_until_idle();
  const EngineStats end = e->stats();
  EXPECT_EQ(end.requests_submitted, 4u);
  EXPECT_EQ(end.requests_finished, 4u);
  EXPECT_EQ(end.prompt_tokens, 20u);
  EXPECT_EQ(end.generated_tokens, 12u);
  EXPECT_EQ(end.active_sequences, 0);
  EXPECT_EQ(end.queue_depth, 0);
  EXPECT_EQ(end.kv_blocks_used, 0);
  EXPECT_GE(end.iterations, 3u);
}

}  // namespace
}  // namespace quarrel::runtime
