#include "server/metrics.h"

#include <algorithm>
#include <fmt/format.h>

namespace quarrel::server {

namespace {

std::string number(double v) { return fmt::format("{}", v); }

void header(std::string& out, const char* name, const char* type, const char* help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

std::string escape_label(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
  std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::observe(double value) {
  std::lock_guard lock(mu_);
  const auto it = std::lower_bound(bounds_.begin(), bounds_.end(), value);  // first bound >= value (le)
  ++counts_[static_cast<size_t>(it - bounds_.begin())];
  sum_ += value;
  ++count_;
}

uint64_t Histogram::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
  std::lock_guard lock(mu_);
  uint64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, number(bounds_[i]), cumulative);
  }
  cumulative += counts_.back();
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name, number(sum_), name, count_);
}

Metrics::Metrics()
    : duration_({0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}),
      ttft_({0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      itl_({0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}) {}

void Metrics::request(const std::string& route, const std::string& model, unsigned status, double seconds) {
  {
    std::lock_guard lock(mu_);
    ++requests_[{route, model, status}];
  }
  duration_.observe(seconds);
}

void Metrics::error(const std::string& code) {
  std::lock_guard lock(mu_);
  ++errors_[code];
}

void Metrics::generation_finished(uint64_t prompt_tokens, uint64_t generated_tokens, const std::string& reason) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += prompt_tokens;
  generated_tokens_ += generated_tokens;
  ++generations_[reason];
}

Metrics::ConnectionToken Metrics::connection(ConnectionKind kind) {
  auto& counter = connections_[static_cast<size_t>(kind)];
  counter.fetch_add(1);
  return ConnectionToken(nullptr, [&counter](void*) { counter.fetch_sub(1); });
}

int64_t Metrics::connections(ConnectionKind kind) const { return connections_[static_cast<size_t>(kind)].load(); }

std::string Metrics::render(const MetricsGauges& g) const {
  std::string out;
  {
    std::lock_guard lock(mu_);
    header(out, "quarrel_requests_total", "counter", "HTTP requests answered, by route, model and status.");
    for (const auto& [k, n] : requests_) {
      out += fmt::format("quarrel_requests_total{{route=\"{}\",model=\"{}\",status=\"{}\"}} {}\n",
                         escape_label(std::get<0>(k)), escape_label(std::get<1>(k)), std::get<2>(k), n);
    }
    header(out, "quarrel_errors_total", "counter", "Error responses, by error code.");
    for (const auto& [code, n] : errors_) out += fmt::format("quarrel_errors_total{{code=\"{}\"}} {}\n", escape_label(code), n);
    header(out, "quarrel_tokens_total", "counter", "Tokens processed: prompt tokens and generated tokens.");
    out += fmt::format("quarrel_tokens_total{{kind=\"prompt\"}} {}\n", prompt_tokens_);
    out += fmt::format("quarrel_tokens_total{{kind=\"generated\"}} {}\n", generated_tokens_);
    header(out, "quarrel_generations_total", "counter", "Generations ended, by reason (stop, length, cancelled, ...).");
    for (const auto& [reason, n] : generations_)
      out += fmt::format("quarrel_generations_total{{reason=\"{}\"}} {}\n", escape_label(reason), n);
  }
  header(out, "quarrel_request_duration_seconds", "histogram", "Time from a request's arrival to its last byte.");
  duration_.render("quarrel_request_duration_seconds", out);
  header(out, "quarrel_time_to_first_token_seconds", "histogram", "Time from submit to the first generated token.");
  ttft_.render("quarrel_time_to_first_token_seconds", out);
  header(out, "quarrel_inter_token_latency_seconds", "histogram", "Time between two generated tokens of a sequence.");
  itl_.render("quarrel_inter_token_latency_seconds", out);
  header(out, "quarrel_connections_active", "gauge", "Open client connections, by kind.");
  out += fmt::format("quarrel_connections_active{{kind=\"http\"}} {}\n", connections(ConnectionKind::kHttp));
  out += fmt::format("quarrel_connections_active{{kind=\"websocket\"}} {}\n", connections(ConnectionKind::kWebSocket));
  header(out, "quarrel_queue_depth", "gauge", "Requests waiting for the engine.");
  out += fmt::format("quarrel_queue_depth {}\n", g.queue_depth);
  header(out, "quarrel_active_sequences", "gauge", "Sequences in the engine's running set.");
  out += fmt::format("quarrel_active_sequences {}\n", g.active_sequences);
  header(out, "quarrel_kv_blocks_used", "gauge", "KV cache blocks held by live sequences.");
  out += fmt::format("quarrel_kv_blocks_used {}\n", g.kv_blocks_used);
  header(out, "quarrel_kv_blocks_total", "gauge", "KV cache blocks in the pool.");
  out += fmt::format("quarrel_kv_blocks_total {}\n", g.kv_blocks_total);
  return out;
}

}  // namespace quarrel::server
