// Text in and out on a real model (stories260K, with its SentencePiece tokenizer): the greedy
// continuation matches the shared reference, stop strings end the text and never reach the
// events (also when they span tokens), log-probabilities come with the tokens.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "common/test_data.h"
#include "engine_fixture.h"

namespace quarrel::runtime {
namespace {
using namespace test_support;

struct Reference {
  std::vector<TokenId> prompt_ids;  // with BOS
  std::vector<TokenId> greedy;      // the 40 generated ids
  std::string continuation;         // their text
};

const Reference& reference() {
  static const Reference r = [] {
    const auto j = nlohmann::json::parse(quarrel::test::read_file(quarrel::test::data_path("models/reference_greedy.json")));
    Reference ref;
    ref.prompt_ids = j.at("prompt_ids_with_bos").get<std::vector<TokenId>>();
    for (const auto& step : j.at("steps")) ref.greedy.push_back(step.at("next").get<TokenId>());
    const std::string text = j.at("greedy_text").get<std::string>();
    const std::string prompt = " " + j.at("prompt").get<std::string>();
    ref.continuation = text.substr(prompt.size());
    return ref;
  }();
  return r;
}

std::unique_ptr<Engine> stories_engine(int32_t max_running = 4) {
  CpuEngineOptions o;
  o.model_path = quarrel::test::data_path("models/stories260K.gguf").string();
  o.n_ctx = 256;
  o.n_threads = 1;
  o.kv_type = GgmlType::F32;
  o.engine.max_running = max_running;
  return load_cpu_engine(o);
}

Request text_request(const std::string& stop = {}, int32_t max_tokens = 40) {
  Request r;
  r.prompt_text = "Once upon a time";
  r.sampling = greedy();
  r.max_tokens = max_tokens;
  if (!stop.empty()) r.stop = {stop};
  return r;
}

TEST(EngineText, GreedyContinuationMatchesTheReference) {
  auto e = stories_engine();
  auto h = e->submit(text_request());
  e->run_until_idle();
  Collected c = collect(*h);
  EXPECT_EQ(c.final.usage.prompt_tokens, static_cast<int32_t>(reference().prompt_ids.size()));
  EXPECT_EQ(c.tokens, reference().greedy);
  EXPECT_EQ(c.text, reference().continuation);
  EXPECT_EQ(c.final.reason, StopReason::kLength);
}

TEST(EngineText, StopStringsAreNeverEmitted) {
  const std::string& full = reference().continuation;
  auto e = stories_engine(8);
  // Stops that start mid-token, span tokens, sit at the very start, or never occur.
  const std::vector<std::string> stops = {"little girl", "Lily.", " park", "e", ", t", ",", "red ball.", "dragon"};
  std::vector<std::shared_ptr<RequestHandle>> hs;
  for (const auto& s : stops) hs.push_back(e->submit(text_request(s)));
  e->run_until_idle();
  for (size_t i = 0; i < stops.size(); ++i) {
    Collected c = collect(*hs[i]);
    const size_t at = full.find(stops[i]);
    const std::string want = at == std::string::npos ? full : full.substr(0, at);
    EXPECT_EQ(c.text, want) << "stop '" << stops[i] << "'";
    EXPECT_EQ(c.text.find(stops[i]), std::string::npos) << stops[i];
    for (const auto& ev : c.events) EXPECT_EQ(ev.text.find(stops[i]), std::string::npos) << stops[i];
    EXPECT_EQ(c.final.reason, at == std::string::npos ? StopReason::kLength : StopReason::kStopString) << stops[i];
  }
}

TEST(EngineText, LogprobsComeWithEachToken) {
  auto e = stories_engine();
  Request r = text_request({}, 8);
  r.sampling.logprobs = true;
  r.sampling.top_logprobs = 3;
  auto h = e->submit(r);
  e->run_until_idle();
  Collected c = collect(*h);
  ASSERT_EQ(c.events.size(), 8u);
  for (const auto& ev : c.events) {
    ASSERT_EQ(ev.top_logprobs.size(), 3u);
    EXPECT_EQ(ev.top_logprobs[0].token, ev.token);  // greedy picks the most likely
    EXPECT_FLOAT_EQ(ev.logprob, ev.top_logprobs[0].logprob);
    EXPECT_LE(ev.logprob, 0.0f);
    EXPECT_GE(ev.top_logprobs[0].logprob, ev.top_logprobs[1].logprob);
    EXPECT_GE(ev.top_logprobs[1].logprob, ev.top_logprobs[2].logprob);
  }
  // Without asking, none.
  auto h2 = e->submit(text_request({}, 2));
  e->run_until_idle();
  for (const auto& ev : collect(*h2).events) EXPECT_TRUE(ev.top_logprobs.empty());
}

TEST(EngineText, StopTokenEndsAndIsNotShown) {
  auto e = stories_engine();
  const TokenId eos = e->tokenizer()->eos();
  ASSERT_GE(eos, 0);
  // Ask the model to stop at the reference's 4th token as if it were an end token.
  Request r = text_request({}, 40);
  r.stop_tokens = {reference().greedy[3]};
  auto h = e->submit(r);
  e->run_until_idle();
  Collected c = collect(*h);
  EXPECT_EQ(c.final.reason, StopReason::kStopToken);
  EXPECT_EQ(c.tokens, std::vector<TokenId>(reference().greedy.begin(), reference().greedy.begin() + 3));
  EXPECT_EQ(c.final.usage.generated_tokens, 4);  // the stop token was generated, not shown
}

TEST(EngineText, TextPromptsAndIdPromptsAgree) {
  auto e = stories_engine();
  Request ids;
  ids.prompt = reference().prompt_ids;
  ids.sampling = greedy();
  ids.max_tokens = 40;
  auto h = e->submit(ids);
  e->run_until_idle();
  Collected c = collect(*h);
  EXPECT_EQ(c.tokens, reference().greedy);
  EXPECT_EQ(c.text, reference().continuation);
}

}  // namespace
}  // namespace quarrel::runtime
