// quarrel perplexity MODEL --file TEXT [--ctx N]: the model's perplexity on a text.
//
// As llama.cpp's perplexity tool: the text is tokenized once (with BOS when the model adds
// one), cut into non-overlapping windows of N tokens, each window run from an empty context
// with its first token replaced by BOS (when the model uses one), and in each window only the
// second half is scored (tokens N/2+1 .. N-1, each predicted from the logits of the one
// before), so every scored token has at least N/2 tokens of context. --all scores every token
// of every window instead (tokens 1 .. N-1). PPL = exp(mean negative log-likelihood); its
// standard error comes from the standard error of that mean (delta method: PPL * SE).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/quarrel/cli_progress.h"
#include "apps/quarrel/command.h"
#include "backend/cpu_backend.h"
#include "core/error.h"
#include "gguf/keys.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::cli {
namespace {

struct Args {
  std::string model, file;
  int32_t ctx = 512, batch = 512;
  int threads = 0;
  bool all = false, json = false, quiet = false;
};

// log softmax(row)[target], in double.
double log_prob(std::span<const float> row, int32_t target) {
  const float mx = *std::max_element(row.begin(), row.end());
  double sum = 0;
  for (float v : row) sum += std::exp(static_cast<double>(v) - mx);
  return static_cast<double>(row[static_cast<size_t>(target)]) - mx - std::log(sum);
}

int run(const Args& a) {
  if (a.ctx < 4) fail(ErrorCode::kInvalidArgument, "--ctx must be at least 4, got {}", a.ctx);
  if (a.batch < 1) fail(ErrorCode::kInvalidArgument, "--batch must be at least 1, got {}", a.batch);
  if (a.threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", a.threads);
  std::ifstream in(a.file, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, "cannot read the text file '{}'", a.file);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

  auto model = model::Model::load(a.model, {.n_ctx = a.ctx});
  if (!model->file().has(gguf::keys::kTokenizerTokens))
    fail(ErrorCode::kUnsupported, "{}: the model has no tokenizer", a.model);
  const auto tok = tokenizer::Tokenizer::from_gguf(model->file());
  const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true, /*parse_special=*/false);
  int32_t window = a.ctx;
  if (static_cast<int64_t>(tokens.size()) < window) {
    window = static_cast<int32_t>(tokens.size());
    if (window < 4) fail(ErrorCode::kInvalidArgument, "{}: the text has {} tokens; at least 4 are needed", a.file, window);
    if (!a.quiet) std::fprintf(stderr, "perplexity: the text has only %d tokens: one window of %d\n", window, window);
  }
  const auto n_windows = static_cast<int32_t>(tokens.size() / static_cast<size_t>(window));
  const bool use_bos = tok.add_bos() && tok.bos() >= 0;
  const int32_t first = a.all ? 0 : window / 2;  // logits of positions [first, window - 1) are scored

  constexpr int32_t kBlock = 16;
  backend::CpuBackend be({.n_threads = a.threads});
  be.load(model, {.n_blocks = backend::KvCacheConfig::blocks_for(window, kBlock), .block_size = kBlock});
  std::vector<int32_t> table(static_cast<size_t>(be.kv_config().n_blocks));
  std::iota(table.begin(), table.end(), 0);

  ProgressBar bar("perplexity", !a.quiet);
  double nll = 0, nll2 = 0;
  int64_t count = 0;
  auto ppl_now = [&] { return count ? std::exp(nll / static_cast<double>(count)) : 0.0; };
  backend::Batch batch;
  backend::Logits logits;
  bar.update(0, static_cast<uint64_t>(n_windows));
  for (int32_t w = 0; w < n_windows; ++w) {
    const int32_t* win = tokens.data() + static_cast<size_t>(w) * static_cast<size_t>(window);
    for (int32_t b = 0; b < window; b += a.batch) {
      const int32_t e = std::min(window, b + a.batch);
      batch.clear();
      batch.set_sequence(0, table, e);
      for (int32_t p = b; p < e; ++p) {
        const int32_t t = p == 0 && use_bos ? tok.bos() : win[p];
        batch.add_token(t, p, 0, p, p >= first && p < window - 1);
      }
      be.forward(batch, logits);
      for (size_t r = 0; r < logits.rows(); ++r) {
        const int32_t p = b + logits.batch_index[r];
        const double lp = log_prob(logits.row(r), win[p + 1]);
        nll -= lp;
        nll2 += lp * lp;
        ++count;
      }
    }
    bar.update(static_cast<uint64_t>(w + 1), static_cast<uint64_t>(n_windows), fmt::format("PPL {:.4f}", ppl_now()));
  }
  const double mean = nll / static_cast<double>(count);
  const double var = nll2 / static_cast<double>(count) - mean * mean;
  const double se = count > 1 ? std::sqrt(std::max(0.0, var) / static_cast<double>(count - 1)) : 0.0;
  const double ppl = std::exp(mean);
  if (a.json) {
    nlohmann::ordered_json j{{"model", a.model},       {"file", a.file},         {"tokens", tokens.size()},
                             {"ctx", window},          {"windows", n_windows},    {"scored_tokens", count},
                             {"scoring", a.all ? "all" : "second_half"},          {"perplexity", ppl},
                             {"perplexity_stderr", ppl * se},                     {"mean_nll", mean}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("PPL = %.4f +/- %.4f (%lld tokens scored in %d windows of %d; %s)\n", ppl, ppl * se,
                static_cast<long long>(count), n_windows, window, a.all ? "all tokens" : "second half of each window");
  }
  return 0;
}

const RegisterCommand kPerplexity{Command{
    "perplexity", "Measure a model's perplexity on a text file", [](CLI::App& sub) {
      auto a = std::make_shared<Args>();
      sub.add_option("MODEL", a->model, "Model file (GGUF)")->required();
      sub.add_option("-f,--file", a->file, "Text file (UTF-8)")->required();
      sub.add_option("-c,--ctx", a->ctx, "Window size in tokens (default 512)");
      sub.add_option("-b,--batch", a->batch, "Tokens per forward pass (default 512)");
      sub.add_option("-t,--threads", a->threads, "Threads (default: the physical cores)");
      sub.add_flag("--all", a->all, "Score every token of each window, not only the second half");
      sub.add_flag("--json", a->json, "Print the result as JSON");
      sub.add_flag("-q,--quiet", a->quiet, "No progress bar");
      sub.footer(
          "Windows do not overlap; each starts from an empty context (its first token replaced by BOS when the model "
          "uses one) and, as llama.cpp's perplexity does, only its second half is scored unless --all is given.");
      return [a] { return run(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
