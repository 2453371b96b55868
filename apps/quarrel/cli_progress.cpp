#include "apps/quarrel/cli_progress.h"

#include <unistd.h>

#include <cstdio>

namespace quarrel::cli {

ProgressBar::ProgressBar(std::string what, bool enabled)
    : what_(std::move(what)), enabled_(enabled), tty_(::isatty(STDERR_FILENO) == 1) {}

void ProgressBar::update(uint64_t done, uint64_t total, const std::string& detail) {
  if (!enabled_ || finished_) return;
  const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 1.0;
  const int pct = static_cast<int>(frac * 100);
  const bool finished = done >= total;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (!finished && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    constexpr int kWidth = 30;
    std::string bar(static_cast<size_t>(frac * kWidth), '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu %-40.40s", what_.c_str(), bar.c_str(), pct,
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), detail.c_str());
    if (finished) std::fputc('\n', stderr);
    std::fflush(stderr);
  } else if (pct / 10 > last_decile_ || finished) {
    last_decile_ = pct / 10;
    std::fprintf(stderr, "%s: %3d%% (%llu/%llu)%s%s\n", what_.c_str(), pct, static_cast<unsigned long long>(done),
                 static_cast<unsigned long long>(total), detail.empty() ? "" : " ", detail.c_str());
  }
  finished_ = finished;
}

}  // namespace quarrel::cli
