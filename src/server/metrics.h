#pragma once
// The server's Prometheus metrics (GET /metrics, text exposition format 0.0.4). Thread-safe:
// the Asio thread records requests and connections, the engine thread (through
// EngineObserver) records token latencies and counts.
//
//   Metrics m;
//   m.request("/v1/completions", "stories260K", 200, 0.12);
//   auto c = m.connection(ConnectionKind::kWebSocket);   // counted until `c` is dropped
//   std::string text = m.render({.queue_depth = 0, .kv_blocks_used = 3, .kv_blocks_total = 64});
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

namespace quarrel::server {

// A cumulative histogram with fixed upper bounds (the +Inf bucket is implied).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // Appends the _bucket/_sum/_count lines of `name` (no HELP/TYPE).
  void render(const std::string& name, std::string& out) const;
  uint64_t count() const;

 private:
  mutable std::mutex mu_;
  std::vector<double> bounds_;
  std::vector<uint64_t> counts_;  // per bucket (not cumulative); last: above every bound
  double sum_ = 0;
  uint64_t count_ = 0;
};

enum class ConnectionKind { kHttp = 0, kWebSocket = 1 };

// What the engine and the server report at scrape time.
struct MetricsGauges {
  int64_t queue_depth = 0;
  int64_t active_sequences = 0;
  int64_t kv_blocks_used = 0;
  int64_t kv_blocks_total = 0;
};

class Metrics {
 public:
  Metrics();

  // quarrel_requests_total{route,model,status} and quarrel_request_duration_seconds.
  void request(const std::string& route, const std::string& model, unsigned status, double seconds);
  // quarrel_errors_total{code}.
  void error(const std::string& code);
  // Engine-side: seconds from submit to the first token; between two tokens of a sequence.
  void time_to_first_token(double seconds) { ttft_.observe(seconds); }
  void inter_token_latency(double seconds) { itl_.observe(seconds); }
  // quarrel_tokens_total{kind="prompt"|"generated"}, quarrel_generations_total{reason}.
  void generation_finished(uint64_t prompt_tokens, uint64_t generated_tokens, const std::string& reason);

  // quarrel_connections_active{kind}: counted while the returned token lives.
  using ConnectionToken = std::shared_ptr<void>;
  ConnectionToken connection(ConnectionKind kind);
  int64_t connections(ConnectionKind kind) const;

  // The whole exposition text.
  std::string render(const MetricsGauges& gauges) const;

 private:
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, unsigned>, uint64_t> requests_;
  std::map<std::string, uint64_t> errors_;
  std::map<std::string, uint64_t> generations_;
  uint64_t prompt_tokens_ = 0, generated_tokens_ = 0;
  std::array<std::atomic<int64_t>, 2> connections_{};
  Histogram duration_, ttft_, itl_;
};

// A Prometheus label value with \, " and newline escaped.
std::string escape_label(const std::string& value);

}  // namespace quarrel::server
