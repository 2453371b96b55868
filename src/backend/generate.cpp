#include "backend/generate.h"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "core/error.h"

namespace quarrel::backend {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

TokenId argmax(std::span<const float> v) {
  return static_cast<TokenId>(std::max_element(v.begin(), v.end()) - v.begin());
}

}  // namespace

GreedyResult generate_greedy(Backend& backend, std::span<const TokenId> prompt, int n_steps,
                             const GreedyOptions& options) {
  if (prompt.empty()) fail(ErrorCode::kInvalidArgument, "generate: the prompt is empty");
  const KvCacheConfig& kv = backend.kv_config();
  const int64_t n_total = static_cast<int64_t>(prompt.size()) + std::max(0, n_steps - 1);
  if (n_total > kv.n_slots()) {
    fail(ErrorCode::kInvalidArgument, "generate: {} tokens do not fit in a KV pool of {} slots", n_total, kv.n_slots());
  }
  // Blocks 0, 1, 2, ...: slot == position.
  std::vector<int32_t> table(static_cast<size_t>(KvCacheConfig::blocks_for(n_total, kv.block_size)));
  std::iota(table.begin(), table.end(), 0);

  GreedyResult r;
  Batch batch;
  Logits logits;
  auto pick = [&] {
    const auto row = logits.row(logits.rows() - 1);
    if (options.keep_logits) r.logits.emplace_back(row.begin(), row.end());
    r.tokens.push_back(argmax(row));
  };

  const auto n_prompt = static_cast<int32_t>(prompt.size());
  const int32_t chunk = options.prompt_chunk > 0 ? options.prompt_chunk : n_prompt;
  auto t0 = std::chrono::steady_clock::now();
  for (int32_t begin = 0; begin < n_prompt; begin += chunk) {
    const int32_t end = std::min(n_prompt, begin + chunk);
    batch.clear();
    batch.set_sequence(0, table, end);
    for (int32_t p = begin; p < end; ++p) batch.add_token(prompt[static_cast<size_t>(p)], p, 0, p, p == end - 1);
    backend.forward(batch, logits);
  }
  r.prompt_seconds = seconds_since(t0);
  if (n_steps <= 0) return r;
  pick();

  t0 = std::chrono::steady_clock::now();
  for (int step = 1; step < n_steps; ++step) {
    const int32_t pos = n_prompt + step - 1;
    batch.clear();
    batch.set_sequence(0, table, pos + 1);
    batch.add_token(r.tokens.back(), pos, 0, pos, true);
    backend.forward(batch, logits);
    pick();
  }
  r.generate_seconds = seconds_since(t0);
  return r;
}

}  // namespace quarrel::backend
