// Prometheus text for the server's metrics: exact lines for counters, gauges and cumulative
// histogram buckets; label escaping; connection tokens; concurrent recording.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "server/metrics.h"

namespace quarrel::server {
namespace {

bool has_line(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos || text.starts_with(line + "\n");
}

TEST(Histogram, CumulativeBucketsSumAndCount) {
  Histogram h({0.1, 1, 10});
  for (double v : {0.05, 0.1, 0.5, 2.0, 20.0}) h.observe(v);
  std::string out;
  h.render("x", out);
  EXPECT_EQ(out,
            "x_bucket{le=\"0.1\"} 2\n"  // 0.05 and 0.1 (le: less than or equal)
            "x_bucket{le=\"1\"} 3\n"
            "x_bucket{le=\"10\"} 4\n"
            "x_bucket{le=\"+Inf\"} 5\n"
            "x_sum 22.65\n"
            "x_count 5\n");
}

TEST(Metrics, RendersEveryFamilyWithHelpAndType) {
  Metrics m;
  m.request("/v1/completions", "stories260K", 200, 0.02);
  m.request("/v1/completions", "stories260K", 200, 0.03);
  m.request("/v1/completions", "stories260K", 400, 0.001);
  m.error("INVALID_REQUEST");
  m.time_to_first_token(0.004);
  m.inter_token_latency(0.002);
  m.inter_token_latency(0.002);
  m.generation_finished(7, 5, "length");
  m.generation_finished(3, 0, "cancelled");
  auto c = m.connection(ConnectionKind::kHttp);
  const std::string t = m.render({.queue_depth = 2, .active_sequences = 1, .kv_blocks_used = 3, .kv_blocks_total = 64});
  EXPECT_TRUE(has_line(t, "quarrel_requests_total{route=\"/v1/completions\",model=\"stories260K\",status=\"200\"} 2")) << t;
  EXPECT_TRUE(has_line(t, "quarrel_requests_total{route=\"/v1/completions\",model=\"stories260K\",status=\"400\"} 1"));
  EXPECT_TRUE(has_line(t, "quarrel_errors_total{code=\"INVALID_REQUEST\"} 1"));
  EXPECT_TRUE(has_line(t, "quarrel_tokens_total{kind=\"prompt\"} 10"));
  EXPECT_TRUE(has_line(t, "quarrel_tokens_total{kind=\"generated\"} 5"));
  EXPECT_TRUE(has_line(t, "quarrel_generations_total{reason=\"cancelled\"} 1"));
  EXPECT_TRUE(has_line(t, "quarrel_request_duration_seconds_count 3"));
  EXPECT_TRUE(has_line(t, "quarrel_request_duration_seconds_bucket{le=\"0.005\"} 1"));
  EXPECT_TRUE(has_line(t, "quarrel_request_duration_seconds_bucket{le=\"0.05\"} 3"));
  EXPECT_TRUE(has_line(t, "quarrel_time_to_first_token_seconds_count 1"));
  EXPECT_TRUE(has_line(t, "quarrel_inter_token_latency_seconds_bucket{le=\"0.0025\"} 2"));
  EXPECT_TRUE(has_line(t, "quarrel_connections_active{kind=\"http\"} 1"));
  EXPECT_TRUE(has_line(t, "quarrel_connections_active{kind=\"websocket\"} 0"));
  EXPECT_TRUE(has_line(t, "quarrel_queue_depth 2"));
  EXPECT_TRUE(has_line(t, "quarrel_kv_blocks_used 3"));
  EXPECT_TRUE(has_line(t, "quarrel_kv_blocks_total 64"));
  for (const char* family : {"quarrel_requests_total counter", "quarrel_errors_total counter",
                             "quarrel_tokens_total counter", "quarrel_request_duration_seconds histogram",
                             "quarrel_time_to_first_token_seconds histogram",
                             "quarrel_inter_token_latency_seconds histogram", "quarrel_connections_active gauge",
                             "quarrel_queue_depth gauge", "quarrel_kv_blocks_used gauge", "quarrel_kv_blocks_total gauge"}) {
    EXPECT_TRUE(has_line(t, std::string("# TYPE ") + family)) << family;
  }
  // Every non-comment line is "name{labels} value" or "name value".
  size_t start = 0;
  while (start < t.size()) {
    const size_t end = t.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the text ends with a newline";
    const std::string line = t.substr(start, end - start);
    start = end + 1;
    if (line.starts_with("#")) continue;
    const size_t sp = line.rfind(' ');
    ASSERT_NE(sp, std::string::npos) << line;
    EXPECT_NO_THROW((void)std::stod(line.substr(sp + 1))) << line;
    EXPECT_TRUE(line.starts_with("quarrel_")) << line;
  }
}

TEST(Metrics, ConnectionTokensCountWhileAlive) {
  Metrics m;
  {
    auto a = m.connection(ConnectionKind::kWebSocket);
    auto b = m.connection(ConnectionKind::kWebSocket);
    EXPECT_EQ(m.connections(ConnectionKind::kWebSocket), 2);
    EXPECT_EQ(m.connections(ConnectionKind::kHttp), 0);
  }
  EXPECT_EQ(m.connections(ConnectionKind::kWebSocket), 0);
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  Metrics m;
  m.request("/x", "we\"ird", 200, 0.1);
  EXPECT_NE(m.render({}).find("model=\"we\\\"ird\""), std::string::npos);
}

TEST(Metrics, ConcurrentRecordingLosesNothing) {
  Metrics m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 1000; ++i) {
        m.request("/v1/completions", "m", 200, 0.01);
        m.inter_token_latency(0.001);
        m.generation_finished(1, 2, "stop_token");
      }
    });
  }
  for (auto& th : threads) th.join();
  const std::string t = m.render({});
  EXPECT_TRUE(has_line(t, "quarrel_requests_total{route=\"/v1/completions\",model=\"m\",status=\"200\"} 4000"));
  EXPECT_TRUE(has_line(t, "quarrel_inter_token_latency_seconds_count 4000"));
  EXPECT_TRUE(has_line(t, "quarrel_tokens_total{kind=\"generated\"} 8000"));
}

}  // namespace
}  // namespace quarrel::server
