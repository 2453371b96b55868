// `quarrel serve` operations end to end (the real binary on stories260K, on free ports): 32
// concurrent openai-npm streams equal the same requests run alone; a client that disconnects
// mid-stream frees its KV blocks (seen through /metrics); the Prometheus text; API keys
// (missing, wrong, revoked, rotated without a restart; /healthz open; keys never logged);
// rate limits (429 + Retry-After); CORS (allowed, denied, preflight); queue overflow 503;
// connection limit 503; slow clients closed; limits on max_tokens, headers, priorities.
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/test_data.h"
#include "e2e/run/cli.h"
#include "e2e/server/server_process.h"

namespace quarrel {
namespace {

using json = nlohmann::json;
using test::curl;
using test::ServerProcess;
using Clock = std::chrono::steady_clock;

std::string model() { return test::data_path("models/stories260K.gguf").string(); }
std::string base_args() { return test::shell_quote(model()) + " -t 1 --log-format json"; }

// ---- raw sockets (for what curl cannot do: hold connections, stop reading mid-stream) ----

int connect_to(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

void send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Reads until `until` returns true, the peer closes, or the timeout; returns what came.
template <class Pred>
std::string read_until(int fd, int timeout_ms, Pred until, bool* closed = nullptr) {
  std::string got;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (closed) *closed = false;
  while (!until(got)) {
    const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
    if (left <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, left) <= 0) break;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      if (closed) *closed = true;
      break;
    }
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

std::string post_request(const std::string& path, const std::string& body, const std::string& extra_headers = "") {
  return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

// ---- /metrics ----

// The value of the sample `series` (name with its labels, exactly as printed); NaN if absent.
double metric(const std::string& text, const std::string& series) {
  const std::string key = "\n" + series + " ";
  const auto at = text.find(key);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::stod(text.substr(at + key.size()));
}

std::string scrape(const std::string& url, const std::string& extra = "") {
  const auto r = curl("GET", url + "/metrics", "", extra);
  EXPECT_EQ(r.status, 200) << r.body;
  return "\n" + r.body;
}

json error_of(const test::HttpResult& r) {
  try {
    return json::parse(r.body).at("error");
  } catch (const std::exception&) {
    ADD_FAILURE() << "not an error body: " << r.body;
    return json::object();
  }
}

std::string header_value(const std::string& headers, const std::string& name) {
  std::smatch m;
  const std::regex re("(^|\\n)" + name + ": ([^\\r\\n]*)", std::regex::icase);
  return std::regex_search(headers, m, re) ? m[2].str() : std::string();
}

// A long greedy completion that never stops at EOS (token 2 of stories260K's vocabulary).
std::string long_completion(int max_tokens) {
  return json{{"prompt", "Once upon a time"}, {"max_tokens", max_tokens}, {"temperature", 0},
              {"logit_bias", {{"2", -100}}}, {"stream", true}}
      .dump();
}

// ---- concurrency, disconnects, metrics ----

class OpsConcurrency : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<ServerProcess>(base_args() + " --parallel 8 --ctx 2048");
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<ServerProcess> server_;
};
std::unique_ptr<ServerProcess> OpsConcurrency::server_;

TEST_F(OpsConcurrency, ThirtyTwoStreamsCompleteAndEqualTheSameRequestsAlone) {
  std::string out;
  const std::string cmd = "node " + (test::source_dir() / "tests/js/server_concurrency.mjs").string() + " " +
                          server_->url() + " stories260K 32 12 2>&1";
  const int status = test::run_command(cmd, &out);
  EXPECT_EQ(status, 0) << out << "\n--- server log (tail):\n" << server_->log().substr(server_->log().size() > 4000 ? server_->log().size() - 4000 : 0);
  EXPECT_NE(out.find("\"failures\":[]"), std::string::npos) << out;
}

TEST_F(OpsConcurrency, ClientDisconnectMidStreamFreesItsBlocks) {
  const std::string url = server_->url();
  const double cancelled_before = [&] {
    const double v = metric(scrape(url), "quarrel_generations_total{reason=\"cancelled\"}");
    return std::isnan(v) ? 0.0 : v;
  }();
  const int fd = connect_to(server_->port());
  ASSERT_GE(fd, 0);
  send_all(fd, post_request("/v1/completions", long_completion(2000)));
  // Read a few tokens, then look at the blocks it holds, then go away without a word.
  const std::string got = read_until(fd, 20000, [](const std::string& s) {
    size_t n = 0;
    for (size_t p = 0; (p = s.find("data: ", p)) != std::string::npos; ++p) ++n;
    return n >= 4;
  });
  ASSERT_NE(got.find("200 OK"), std::string::npos) << got;
  const std::string during = scrape(url);
  EXPECT_GT(metric(during, "quarrel_kv_blocks_used"), 0) << during;
  EXPECT_EQ(metric(during, "quarrel_active_sequences"), 1) << during;
  ::close(fd);
  // The engine ends it (cancelled) and frees every block.
  std::string after;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    after = scrape(url);
    if (metric(after, "quarrel_kv_blocks_used") == 0 &&
        metric(after, "quarrel_generations_total{reason=\"cancelled\"}") == cancelled_before + 1)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(metric(after, "quarrel_kv_blocks_used"), 0) << after;
  EXPECT_EQ(metric(after, "quarrel_generations_total{reason=\"cancelled\"}"), cancelled_before + 1) << after;
  EXPECT_EQ(metric(after, "quarrel_active_sequences"), 0);
  // The server goes on serving.
  const auto r = curl("POST", url + "/v1/completions", R"({"prompt": "Once", "max_tokens": 3, "temperature": 0})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(OpsConcurrency, MetricsText) {
  const std::string url = server_->url();
  ASSERT_EQ(curl("POST", url + "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 4})").status, 200);
  ASSERT_EQ(curl("POST", url + "/v1/completions", R"({"prompt": 5})").status, 400);
  const auto r = curl("GET", url + "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(header_value(r.headers, "Content-Type").find("text/plain"), std::string::npos) << r.headers;
  const std::string t = "\n" + r.body;
  EXPECT_GE(metric(t, "quarrel_requests_total{route=\"/v1/completions\",model=\"stories260K\",status=\"200\"}"), 1) << t;
  EXPECT_GE(metric(t, "quarrel_requests_total{route=\"/v1/completions\",model=\"stories260K\",status=\"400\"}"), 1);
  EXPECT_GE(metric(t, "quarrel_errors_total{code=\"INVALID_REQUEST\"}"), 1);
  EXPECT_GE(metric(t, "quarrel_tokens_total{kind=\"prompt\"}"), 5);
  EXPECT_GE(metric(t, "quarrel_tokens_total{kind=\"generated\"}"), 4);
  EXPECT_GE(metric(t, "quarrel_request_duration_seconds_count"), 2);
  EXPECT_GE(metric(t, "quarrel_time_to_first_token_seconds_count"), 1);
  EXPECT_GE(metric(t, "quarrel_inter_token_latency_seconds_count"), 3);
  EXPECT_EQ(metric(t, "quarrel_time_to_first_token_seconds_bucket{le=\"+Inf\"}"),
            metric(t, "quarrel_time_to_first_token_seconds_count"));
  EXPECT_GE(metric(t, "quarrel_connections_active{kind=\"http\"}"), 1);  // this scrape's own
  EXPECT_EQ(metric(t, "quarrel_connections_active{kind=\"websocket\"}"), 0);
  EXPECT_EQ(metric(t, "quarrel_queue_depth"), 0);
  EXPECT_GT(metric(t, "quarrel_kv_blocks_total"), 0);
  EXPECT_EQ(metric(t, "quarrel_kv_blocks_used"), 0);
}

// ---- API keys and CORS ----

class OpsAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir("qkeys");
    file_ = (dir_ / "keys.json").string();
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string create(const std::string& name) {
    const auto r = test::run_cli("keys create " + name + " --file " + test::shell_quote(file_));
    EXPECT_EQ(r.status, 0) << r.err;
    std::string key = r.out;
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key.pop_back();
    return key;
  }
  std::filesystem::path dir_;
  std::string file_;
};

std::string bearer(const std::string& key) { return "-H 'Authorization: Bearer " + key + "'"; }

TEST_F(OpsAuth, KeysCorsAndRotationWithoutRestart) {
  const std::string alice = create("alice");
  ASSERT_EQ(alice.size(), 51u) << alice;
  EXPECT_NE(test::run_cli("keys create alice --file " + test::shell_quote(file_)).status, 0);  // names are unique
  const std::string file_text = test::read_file(file_);
  EXPECT_EQ(file_text.find(alice), std::string::npos) << "the key itself is never stored";
  const auto list = test::run_cli("keys list --file " + test::shell_quote(file_));
  EXPECT_EQ(list.status, 0);
  EXPECT_NE(list.out.find("alice"), std::string::npos);

  // The CORS list comes from the environment (every option has its QUARREL_* variable).
  ::setenv("QUARREL_CORS", "https://app.example", 1);
  ServerProcess s(base_args() + " --api-keys " + test::shell_quote(file_), bearer(alice));
  ::unsetenv("QUARREL_CORS");
  const std::string url = s.url();

  EXPECT_EQ(curl("GET", url + "/healthz").status, 200);  // open
  auto r = curl("GET", url + "/v1/models");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_of(r)["code"], "UNAUTHORIZED");
  EXPECT_TRUE(error_of(r).contains("request_id"));
  EXPECT_EQ(header_value(r.headers, "WWW-Authenticate"), "Bearer");
  EXPECT_EQ(curl("GET", url + "/v1/models", "", bearer("qk-wrong")).status, 401);
  EXPECT_EQ(curl("GET", url + "/v1/models", "", "-H 'Authorization: Basic " + alice + "'").status, 401);
  EXPECT_EQ(curl("GET", url + "/metrics").status, 401);
  EXPECT_EQ(curl("POST", url + "/v1/completions", R"({"prompt": "Once", "max_tokens": 2})").status, 401);
  EXPECT_EQ(curl("GET", url + "/v1/models", "", bearer(alice)).status, 200);
  r = curl("POST", url + "/v1/completions", R"({"prompt": "Once", "max_tokens": 2})", bearer(alice));
  EXPECT_EQ(r.status, 200) << r.body;

  // Rotation: a new key works at once, the revoked one stops working, no restart.
  const std::string bob = create("bob");
  EXPECT_EQ(curl("GET", url + "/v1/models", "", bearer(bob)).status, 200);
  ASSERT_EQ(test::run_cli("keys revoke alice --file " + test::shell_quote(file_)).status, 0);
  r = curl("GET", url + "/v1/models", "", bearer(alice));
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(error_of(r)["code"], "UNAUTHORIZED");
  EXPECT_EQ(curl("GET", url + "/v1/models", "", bearer(bob)).status, 200);
  EXPECT_NE(test::run_cli("keys revoke alice --file " + test::shell_quote(file_)).status, 0);

  // CORS: allowed origin gets the header (error responses too), a denied one does not.
  const std::string allowed = "-H 'Origin: https://app.example' ";
  const std::string denied = "-H 'Origin: https://evil.example' ";
  r = curl("GET", url + "/v1/models", "", allowed + bearer(bob));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "https://app.example") << r.headers;
  r = curl("GET", url + "/v1/models", "", allowed);
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "https://app.example") << r.headers;
  r = curl("GET", url + "/v1/models", "", denied + bearer(bob));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "") << r.headers;
  r = curl("POST", url + "/v1/completions", R"({"prompt": "Once", "max_tokens": 2, "stream": true})",
           allowed + bearer(bob));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "https://app.example") << r.headers;
  // Preflight: answered without a key.
  const std::string pre = "-H 'Access-Control-Request-Method: POST' -H 'Access-Control-Request-Headers: "
                          "authorization, content-type' ";
  r = curl("OPTIONS", url + "/v1/chat/completions", "", allowed + pre);
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "https://app.example");
  EXPECT_NE(header_value(r.headers, "Access-Control-Allow-Methods").find("POST"), std::string::npos) << r.headers;
  EXPECT_NE(header_value(r.headers, "Access-Control-Allow-Headers").find("Authorization"), std::string::npos);
  r = curl("OPTIONS", url + "/v1/chat/completions", "", denied + pre);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Origin"), "");
  EXPECT_EQ(header_value(r.headers, "Access-Control-Allow-Methods"), "");

  // WebSocket: the upgrade needs a key too (?api_key= or the header); open sessions are counted.
  std::string out;
  ASSERT_EQ(test::run_command("node " + (test::source_dir() / "tests/js/server_ws_auth.mjs").string() + " " + url +
                                  " " + bob + " 2>&1",
                              &out),
            0)
      << out;
  const json ws = json::parse(out.substr(out.rfind("{\"none\"")));
  EXPECT_EQ(ws["none"], 401) << out;
  EXPECT_EQ(ws["wrong"], 401) << out;
  EXPECT_EQ(ws["query"], true) << out;
  EXPECT_EQ(ws["header"], true) << out;
  EXPECT_EQ(ws["open"], 2) << out;
  EXPECT_EQ(ws["after"], 0) << out;

  EXPECT_EQ(s.terminate(), 0);
  const std::string log = s.log();
  EXPECT_EQ(log.find(alice), std::string::npos) << "keys never appear in logs";
  EXPECT_EQ(log.find(bob), std::string::npos);
  EXPECT_EQ(log.find("Once"), std::string::npos) << "prompts are not logged without --log-debug";
  EXPECT_NE(log.find("api keys reloaded"), std::string::npos);
}

// ---- rate limits ----

TEST_F(OpsAuth, RateLimitsPerKeyWithRetryAfter) {
  const std::string a = create("a");
  const std::string b = create("b");
  ServerProcess s(base_args() + " --api-keys " + test::shell_quote(file_) +
                  " --rate-limit-rpm 3 --rate-limit-tpm 40", bearer(a));
  const std::string url = s.url();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(curl("GET", url + "/v1/models", "", bearer(a)).status, 200) << i;
  auto r = curl("GET", url + "/v1/models", "", bearer(a));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(error_of(r)["code"], "RATE_LIMITED");
  const int retry = std::atoi(header_value(r.headers, "Retry-After").c_str());
  EXPECT_GE(retry, 1) << r.headers;
  EXPECT_LE(retry, 20) << r.headers;
  // Another key has its own allowance.
  r = curl("POST", url + "/v1/completions", R"({"prompt": "Once upon a time", "max_tokens": 40, "temperature": 0,
           "logit_bias": {"2": -100}})", bearer(b));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["usage"]["total_tokens"], 45);
  // 45 tokens used of 40 per minute: the next request waits until the balance is positive.
  r = curl("GET", url + "/v1/models", "", bearer(b));
  EXPECT_EQ(r.status, 429) << r.body;
  EXPECT_EQ(error_of(r)["code"], "RATE_LIMITED");
  EXPECT_GE(std::atoi(header_value(r.headers, "Retry-After").c_str()), 1);
  EXPECT_EQ(curl("GET", url + "/healthz").status, 200);  // never limited
  // Scrapes are not rate limited.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(curl("GET", url + "/metrics", "", bearer(a)).status, 200);
}

// ---- limits ----

class OpsLimits : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = std::make_unique<ServerProcess>(base_args() +
                                              " --parallel 1 --queue-size 1 --ctx 512 --max-tokens 300 "
                                              "--max-connections 12 --idle-timeout 1");
  }
  static void TearDownTestSuite() { server_.reset(); }
  static std::unique_ptr<ServerProcess> server_;
};
std::unique_ptr<ServerProcess> OpsLimits::server_;

TEST_F(OpsLimits, QueueOverflowAnswers503AtOnce) {
  // Eight requests within a millisecond: one runs, one waits, the rest are refused at once.
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(connect_to(server_->port()));
  const std::string body = json{{"prompt", "Once upon a time"}, {"max_tokens", 300}, {"temperature", 0},
                                {"logit_bias", {{"2", -100}}}}.dump();
  for (int fd : fds) send_all(fd, post_request("/v1/completions", body, "Connection: close\r\n"));
  int ok = 0, overloaded = 0;
  for (int fd : fds) {
    bool closed = false;
    const std::string r = read_until(fd, 60000, [](const std::string&) { return false; }, &closed);
    ::close(fd);
    if (r.starts_with("HTTP/1.1 200")) {
      ++ok;
    } else if (r.starts_with("HTTP/1.1 503")) {
      ++overloaded;
      EXPECT_NE(r.find("\"code\":\"OVERLOADED\""), std::string::npos) << r;
      EXPECT_NE(r.find("Retry-After: 1"), std::string::npos) << r;
    } else {
      ADD_FAILURE() << r;
    }
  }
  EXPECT_GE(ok, 1);
  EXPECT_GE(overloaded, 1);
  EXPECT_EQ(ok + overloaded, 8);
}

TEST_F(OpsLimits, ConnectionLimitAndSlowClientsTimeOut) {
  std::vector<int> fds;
  for (int i = 0; i < 12; ++i) fds.push_back(connect_to(server_->port()));
  send_all(fds[0], "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le");  // a slowloris start
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto r = curl("GET", server_->url() + "/v1/models");
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_of(r)["code"], "OVERLOADED");
  // Idle and half-sent connections are closed by the server after --idle-timeout (1 s).
  const auto t0 = Clock::now();
  for (int fd : fds) {
    bool closed = false;
    read_until(fd, 5000, [](const std::string&) { return false; }, &closed);
    EXPECT_TRUE(closed);
    ::close(fd);
  }
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - t0).count(), 4.0);
  r = curl("GET", server_->url() + "/v1/models");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(OpsLimits, BadInputsGet4xx) {
  const std::string c = server_->url() + "/v1/completions";
  auto r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 301})");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "INVALID_REQUEST");
  std::string words;
  for (int i = 0; i < 300; ++i) words += "the dog ran ";
  r = curl("POST", c, json{{"prompt", words}, {"max_tokens", 4}}.dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(error_of(r)["code"], "CONTEXT_OVERFLOW");
  r = curl("GET", c);
  EXPECT_EQ(r.status, 405);
  r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 2})", "-H 'X-Big: " + std::string(20000, 'x') + "'");
  EXPECT_EQ(r.status, 431);
  r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 2})", "-H 'X-Quarrel-Priority: urgent'");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(error_of(r)["message"].get<std::string>().find("X-Quarrel-Priority"), std::string::npos);
  r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 2, "priority": 7})");
  EXPECT_EQ(r.status, 400);
  r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 2})", "-H 'X-Quarrel-Priority: batch'");
  EXPECT_EQ(r.status, 200) << r.body;
  r = curl("POST", c, R"({"prompt": "Once", "max_tokens": 2, "priority": "batch"})");
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST(OpsTimeout, RequestTimeoutEndsAGeneration) {
  ServerProcess s(base_args() + " --ctx 4096 --request-timeout 1");
  const auto t0 = Clock::now();
  const auto r = curl("POST", s.url() + "/v1/completions",
                      json{{"prompt", "Once upon a time"}, {"max_tokens", 4000}, {"temperature", 0},
                           {"logit_bias", {{"2", -100}}}}.dump());
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  ASSERT_EQ(r.status, 200) << r.body;
  const json j = json::parse(r.body);
  if (j["usage"]["completion_tokens"] == 4000) GTEST_SKIP() << "4000 tokens in under a second: nothing to time out";
  EXPECT_EQ(j["choices"][0]["finish_reason"], "timeout") << r.body;
  EXPECT_LT(secs, 5.0);
}

}  // namespace
}  // namespace quarrel
