// `quarrel serve` end to end: the real binary on stories260K, driven by the official `openai`
// npm client (tests/js/server_openai.mjs) and by curl for the error cases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <thread>

#include "common/test_data.h"
#include "e2e/run/cli.h"
#include "e2e/server/server_process.h"

namespace quarrel {
namespace {

using json = nlohmann::json;
using test::curl;
using test::ServerProcess;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

class ServerE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<ServerProcess>(test::shell_quote(model()) +
                                              " -t 1 --parallel 2 --ctx 256 --max-body 65536 --log-format json");
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<ServerProcess> server_;
  const std::string& url() { return server_->url(); }
};
std::unique_ptr<ServerProcess> ServerE2E::server_;

json error_of(const test::HttpResult& r) {
  const json j = json::parse(r.body);
  EXPECT_TRUE(j.contains("error")) << r.body;
  EXPECT_TRUE(j["error"].contains("request_id")) << r.body;
  return j["error"];
}

TEST_F(ServerE2E, HealthReadyVersionModels) {
  EXPECT_EQ(curl("GET", url() + "/healthz").status, 200);
  EXPECT_EQ(curl("GET", url() + "/readyz").status, 200);
  const auto v = curl("GET", url() + "/version");
  ASSERT_EQ(v.status, 200);
  EXPECT_EQ(json::parse(v.body)["version"], "0.1.0");
  const auto m = curl("GET", url() + "/v1/models");
  ASSERT_EQ(m.status, 200);
  EXPECT_EQ(json::parse(m.body)["data"][0]["id"], "stories260K");
  EXPECT_NE(m.headers.find("X-Request-Id: req-"), std::string::npos) << m.headers;
}

TEST_F(ServerE2E, OpenAiClientAndGreedyEqualsQuarrelRun) {
  std::string out;
  const std::string cmd = "node " + (test::source_dir() / "tests/js/server_openai.mjs").string() + " " + url() +
                          " stories260K 2>&1";
  const int status = test::run_command(cmd, &out);
  ASSERT_EQ(status, 0) << out << "\n--- server log:\n" << server_->log();
  const json j = json::parse(out.substr(out.rfind("{\"greedy_completion\"")));
  const auto run = test::run_cli("run " + test::shell_quote(model()) + " 'Once upon a time' --temp 0 -n 40 -t 1");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(j["greedy_completion"].get<std::string>(), run.out);
}

TEST_F(ServerE2E, BadInputsGetTheirStatusAndCode) {
  const std::string c = url() + "/v1/completions";
  auto r = curl("POST", c, "{not json");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "INVALID_REQUEST");
  EXPECT_NE(error_of(r)["message"].get<std::string>().find("not valid JSON"), std::string::npos);

  r = curl("POST", c, R"({"prompt": "hi", "max_tokens": "many"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r)["message"].get<std::string>().find("max_tokens"), std::string::npos) << r.body;

  r = curl("POST", c, R"({"prompt": 5})");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", c, R"({"prompt": "hi", "stop": [1, 2]})");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", c, R"({"prompt": "hi", "logit_bias": {"abc": 1}})");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", c, R"([1, 2, 3])");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", url() + "/v1/chat/completions", R"({"messages": "hello"})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "INVALID_REQUEST");

  r = curl("POST", c, R"({"model": "gpt-4", "prompt": "hi"})");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(error_of(r)["code"], "MODEL_NOT_FOUND");

  std::string words;
  for (int i = 0; i < 400; ++i) words += "the dog ran ";
  r = curl("POST", c, json{{"prompt", words}, {"max_tokens", 4}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "CONTEXT_OVERFLOW") << r.body;

  r = curl("POST", c, json{{"prompt", std::string(100000, 'a')}}.dump());
  EXPECT_EQ(r.status, 413) << r.body;

  r = curl("GET", url() + "/no/such/route");
  EXPECT_EQ(r.status, 404);

  // The server still serves everyone after all that.
  r = curl("POST", c, R"({"prompt": "Once upon a time", "max_tokens": 5, "temperature": 0})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["usage"]["completion_tokens"], 5);
}

TEST_F(ServerE2E, StreamEndsWithDone) {
  const auto r = curl("POST", url() + "/v1/chat/completions",
                      R"({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "stream": true})", "-N");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.headers.find("text/event-stream"), std::string::npos);
  const std::string tail = "data: [DONE]\n\n";
  ASSERT_GE(r.body.size(), tail.size());
  EXPECT_EQ(r.body.substr(r.body.size() - tail.size()), tail) << r.body;
}

TEST(ServerShutdown, SigtermDrainsAndExitsZero) {
  ServerProcess s(test::shell_quote(model()) + " -t 1 --grace 20");
  // A request in flight when SIGTERM comes still completes.
  const std::string cmd = "curl -s -X POST -H 'Content-Type: application/json' --data '{\"prompt\": \"Once upon a "
                          "time\", \"max_tokens\": 200, \"temperature\": 0}' " + s.url() + "/v1/completions";
  FILE* f = ::popen(cmd.c_str(), "r");
  ASSERT_NE(f, nullptr);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(s.terminate(), 0) << s.log();
  std::string body;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) body.append(buf, n);
  ::pclose(f);
  const json j = json::parse(body);
  const std::string finish = j["choices"][0]["finish_reason"];
  EXPECT_TRUE(finish == "stop" || finish == "length") << body;  // completed, not cancelled
  EXPECT_GT(j["usage"]["completion_tokens"].get<int>(), 0) << body;
  EXPECT_NE(s.log().find("shutting down"), std::string::npos);
}

}  // namespace
}  // namespace quarrel
