// EngineObserver: one on_token per sampled token (the first flagged, with the time since submit;
// the rest with the gap since the previous token) and one on_finish per request carrying the
// final event, before the caller sees it; also for requests cancelled and asking for no tokens.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "engine_fixture.h"

namespace quarrel::runtime {
namespace {
using namespace test_support;

struct Recorder : EngineObserver {
  std::mutex mu;
  std::map<RequestId, std::vector<std::pair<bool, double>>> tokens;
  std::map<RequestId, TokenEvent> finals;
  void on_token(RequestId id, bool first, double seconds) override {
    std::lock_guard lock(mu);
    tokens[id].emplace_back(first, seconds);
  }
  void on_finish(RequestId id, const TokenEvent& ev) override {
    std::lock_guard lock(mu);
    EXPECT_TRUE(ev.final);
    EXPECT_EQ(finals.count(id), 0u) << "one final event per request";
    finals[id] = ev;
  }
};

Request request(size_t n_prompt, int32_t max_tokens, uint64_t salt) {
  std::mt19937_64 rng(99 + salt);
  Request r;
  r.prompt = random_prompt(rng, n_prompt);
  r.max_tokens = max_tokens;
  r.sampling = greedy();
  return r;
}

TEST(EngineObserver, SeesEveryTokenAndEveryEnd) {
  auto e = tiny_engine({}, 64);
  auto rec = std::make_shared<Recorder>();
  e->set_observer(rec);
  auto a = e->submit(request(5, 6, 1));
  auto b = e->submit(request(9, 3, 2));
  auto zero = e->submit(request(4, 0, 3));
  auto c = e->submit(request(7, 50, 4));
  e->step();
  e->step();
  c->cancel();
  e->run_until_idle();
  for (auto& h : {a, b, c, zero}) collect(*h);

  ASSERT_EQ(rec->finals.size(), 4u);
  for (auto& [h, n] : std::vector<std::pair<std::shared_ptr<RequestHandle>, int>>{{a, 6}, {b, 3}}) {
    const auto& toks = rec->tokens[h->id()];
    ASSERT_EQ(toks.size(), static_cast<size_t>(n));
    EXPECT_TRUE(toks[0].first);
    for (size_t i = 1; i < toks.size(); ++i) EXPECT_FALSE(toks[i].first);
    for (const auto& [first, s] : toks) EXPECT_GE(s, 0.0);
    EXPECT_EQ(rec->finals[h->id()].usage.generated_tokens, n);
    EXPECT_EQ(rec->finals[h->id()].reason, StopReason::kLength);
  }
  EXPECT_EQ(rec->finals[b->id()].usage.prompt_tokens, 9);
  EXPECT_EQ(rec->finals[zero->id()].usage.prompt_tokens, 4);
  EXPECT_EQ(rec->tokens.count(zero->id()), 0u);
  EXPECT_EQ(rec->finals[c->id()].reason, StopReason::kCancelled);
  EXPECT_EQ(static_cast<size_t>(rec->finals[c->id()].usage.generated_tokens), rec->tokens[c->id()].size());
}

TEST(EngineObserver, OnlyBeforeStart) {
  auto e = tiny_engine({}, 16);
  e->start();
  EXPECT_THROW(e->set_observer(std::make_shared<Recorder>()), Error);
  e->stop();
}

}  // namespace
}  // namespace quarrel::runtime
