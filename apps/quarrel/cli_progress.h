#pragma once
// A one-line progress bar on stderr for long commands (synth, perplexity): redrawn in place on
// a terminal (at most ~10 times a second), one line per 10% otherwise (logs, pipes), so test
// output and CI logs stay short.
#include <chrono>
#include <cstdint>
#include <string>

namespace quarrel::cli {

class ProgressBar {
 public:
  // `what` prefixes every line ("synth", "perplexity").
  explicit ProgressBar(std::string what, bool enabled = true);

  // done of total units; `detail` is shown after the bar on a terminal ("blk.3.ffn_up.weight",
  // "PPL 12.3"). The line for done == total is always drawn, and ends the bar.
  void update(uint64_t done, uint64_t total, const std::string& detail = {});

 private:
  std::string what_;
  bool enabled_;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point last_{};
  int last_decile_ = -1;
};

}  // namespace quarrel::cli
