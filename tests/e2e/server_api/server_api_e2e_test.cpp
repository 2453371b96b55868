// `quarrel serve`'s API surface end to end, on the real binary and stories260K: the Ollama
// routes through the official `ollama` npm client (tests/js/server_ollama.mjs), the WebSocket
// API through the `ws` client (tests/js/server_ws.mjs), /tokenize and /detokenize through curl
// against `quarrel tokenize`, and /openapi.json + /docs listing every route.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/test_data.h"
#include "e2e/run/cli.h"
#include "e2e/server/server_process.h"

namespace quarrel {
namespace {

using json = nlohmann::json;
using test::curl;
using test::ServerProcess;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }

class ServerApiE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<ServerProcess>(test::shell_quote(model()) + " -t 1 --parallel 2 --ctx 2048 --log-format json");
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<ServerProcess> server_;
  const std::string& url() { return server_->url(); }

  // Runs one of tests/js's drivers against the server; returns its last JSON line.
  json run_driver(const std::string& script) {
    std::string out;
    const std::string cmd = "node " + (test::source_dir() / "tests/js" / script).string() + " " + url() +
                            " stories260K 2>&1";
    const int status = test::run_command(cmd, &out);
    EXPECT_EQ(status, 0) << out << "\n--- server log:\n" << server_->log();
    const auto at = out.rfind("{\"ok\"");
    if (status != 0 || at == std::string::npos) return json();
    return json::parse(out.substr(at));
  }
};
std::unique_ptr<ServerProcess> ServerApiE2E::server_;

TEST_F(ServerApiE2E, OllamaClientGenerateAndChat) {
  const json j = run_driver("server_ollama.mjs");
  ASSERT_TRUE(j.is_object());
  // The driver checked greedy /api/generate == /v1/completions; tie it to the CLI as well.
  const auto run = test::run_cli("run " + test::shell_quote(model()) + " 'Once upon a time' --temp 0 -n 40 -t 1");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(j["greedy_generate"].get<std::string>(), run.out);
}

TEST_F(ServerApiE2E, WebSocketClient) {
  const json j = run_driver("server_ws.mjs");
  EXPECT_TRUE(j.is_object() && j["ok"] == true);
}

TEST_F(ServerApiE2E, WebSocketRouteNeedsAnUpgrade) {
  const auto r = curl("GET", url() + "/ws");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "INVALID_REQUEST");
}

TEST_F(ServerApiE2E, TokenizeMatchesTheCliAndDetokenizeRoundTrips) {
  const std::vector<std::string> texts = {"Once upon a time", "The little dog ran to the park.", " two  spaces\nnew line",
                                          "caf\xC3\xA9 na\xC3\xAFve \xE2\x9C\x93", "Lily said, \"Hello!\""};
  for (const std::string& text : texts) {
    const auto cli = test::run_cli("tokenize " + test::shell_quote(model()) + " " + test::shell_quote(text) + " --ids");
    ASSERT_EQ(cli.status, 0) << cli.err;
    const json want = json::parse(cli.out);
    auto r = curl("POST", url() + "/tokenize", json{{"content", text}, {"add_special", true}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    const json tokens = json::parse(r.body)["tokens"];
    EXPECT_EQ(tokens, want) << text;

    // Without add_special (llama.cpp's default) there is no BOS in front.
    r = curl("POST", url() + "/tokenize", json{{"content", text}}.dump());
    const json plain = json::parse(r.body)["tokens"];
    ASSERT_FALSE(want.empty());
    EXPECT_EQ(plain.size() + 1, want.size()) << r.body;

    r = curl("POST", url() + "/detokenize", json{{"tokens", plain}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(json::parse(r.body)["content"].get<std::string>(), text);

    // with_pieces: the same ids, each with its piece; the pieces join to the text (the
    // SentencePiece space prefix aside).
    r = curl("POST", url() + "/tokenize", json{{"content", text}, {"with_pieces", true}}.dump());
    ASSERT_EQ(r.status, 200) << r.body;
    std::string joined;
    const json pieces = json::parse(r.body)["tokens"];
    ASSERT_EQ(pieces.size(), plain.size());
    for (size_t i = 0; i < pieces.size(); ++i) {
      EXPECT_EQ(pieces[i]["id"], plain[i]);
      if (pieces[i]["piece"].is_string()) {
        joined += pieces[i]["piece"].get<std::string>();
      } else {
        for (const auto& b : pieces[i]["piece"]) joined += static_cast<char>(b.get<int>());
      }
    }
    EXPECT_NE(joined.find(text.substr(1)), std::string::npos) << joined;
  }
  auto r = curl("POST", url() + "/detokenize", R"({"tokens": [1, 99999999]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "INVALID_REQUEST");
  r = curl("POST", url() + "/tokenize", R"({"text": "hi"})");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", url() + "/tokenize", R"({"content": 5})");
  EXPECT_EQ(r.status, 400);
  r = curl("GET", url() + "/tokenize");
  EXPECT_EQ(r.status, 405);
}

TEST_F(ServerApiE2E, OpenApiListsEveryRouteAndDocsRendersIt) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"get", "/healthz"},          {"get", "/readyz"},           {"get", "/version"},       {"get", "/metrics"},
      {"get", "/v1/models"},        {"get", "/v1/models/{model}"}, {"post", "/v1/completions"},
      {"post", "/v1/chat/completions"}, {"post", "/api/generate"}, {"post", "/api/chat"},   {"get", "/api/tags"},
      {"post", "/api/show"},        {"get", "/api/ps"},           {"get", "/api/version"},   {"post", "/tokenize"},
      {"post", "/detokenize"},      {"get", "/ws"},               {"get", "/openapi.json"},  {"get", "/docs"}};
  const auto r = curl("GET", url() + "/openapi.json");
  ASSERT_EQ(r.status, 200);
  const json doc = json::parse(r.body);
  EXPECT_EQ(doc["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const auto& [method, path] : routes) {
    ASSERT_TRUE(doc["paths"].contains(path)) << path;
    EXPECT_TRUE(doc["paths"][path].contains(method)) << method << " " << path;
    EXPECT_TRUE(doc["paths"][path][method].contains("responses")) << path;
  }
  // Every $ref points at a schema the document defines.
  std::vector<const json*> stack = {&doc};
  while (!stack.empty()) {
    const json* j = stack.back();
    stack.pop_back();
    if (j->is_object() && j->contains("$ref")) {
      const std::string ref = (*j)["$ref"];
      ASSERT_EQ(ref.rfind("#/components/schemas/", 0), 0u) << ref;
      EXPECT_TRUE(doc["components"]["schemas"].contains(ref.substr(21))) << ref;
    }
    if (j->is_structured())
      for (const auto& v : *j) stack.push_back(&v);
  }

  const auto d = curl("GET", url() + "/docs");
  ASSERT_EQ(d.status, 200);
  EXPECT_NE(d.headers.find("text/html"), std::string::npos) << d.headers;
  EXPECT_EQ(d.body.rfind("<!DOCTYPE html>", 0), 0u);
  for (const auto& [method, path] : routes)
    EXPECT_NE(d.body.find("<code>" + path + "</code>"), std::string::npos) << path;
  EXPECT_EQ(d.body.find("<script src="), std::string::npos);  // self-contained
  EXPECT_EQ(d.body.find("http://"), std::string::npos);
  EXPECT_EQ(d.body.find("https://"), std::string::npos);
}

// With API keys: an Ollama route refused before it runs still answers in Ollama's shape (the
// client reads "error" as a string), and /ws takes the key as ?api_key=.
TEST(ServerApiKeys, OllamaErrorsKeepTheirShapeAndWsTakesTheKeyInTheQuery) {
  const auto dir = test::temp_dir("qapikeys");
  const std::string file = (dir / "keys.json").string();
  const auto created = test::run_cli("keys create tester --file " + test::shell_quote(file));
  ASSERT_EQ(created.status, 0) << created.err;
  std::string key = created.out;
  while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
  ServerProcess s(test::shell_quote(model()) + " -t 1 --ctx 256 --api-keys " + test::shell_quote(file),
                  "-H 'Authorization: Bearer " + key + "'");
  auto r = curl("GET", s.url() + "/api/tags");
  EXPECT_EQ(r.status, 401);
  const json body = json::parse(r.body);
  ASSERT_TRUE(body["error"].is_string()) << r.body;
  EXPECT_EQ(body["code"], "UNAUTHORIZED");
  EXPECT_EQ(json::parse(curl("GET", s.url() + "/v1/models").body)["error"]["code"], "UNAUTHORIZED");
  r = curl("GET", s.url() + "/api/tags", "", "-H 'Authorization: Bearer " + key + "'");
  EXPECT_EQ(r.status, 200) << r.body;
  // A WebSocket handshake: refused without the key, switching protocols with it.
  const std::string upgrade = "--http1.1 -H 'Connection: Upgrade' -H 'Upgrade: websocket' "
                              "-H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' "
                              "--max-time 2";
  EXPECT_EQ(curl("GET", s.url() + "/ws", "", upgrade).status, 401);
  EXPECT_EQ(curl("GET", s.url() + "/ws?api_key=" + key, "", upgrade).status, 101);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace quarrel
