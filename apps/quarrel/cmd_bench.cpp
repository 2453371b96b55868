// quarrel bench MODEL [-p 512] [-n 128] [-r 3] [--parallel S] [--threads N] [--json]: prompt
// processing and generation speed, and their share of the memory-bandwidth bound.
//
// As llama-bench measures them: ppP is one sequence's prompt of P random tokens run through the
// model (in passes of --batch tokens), tgN is N tokens generated one at a time from an empty
// context; each is repeated r times after one warm-up run, and reported as mean ± standard
// deviation of the tokens/s of the runs. With --parallel S (a server's continuous batching), tgN
// is S sequences generating N tokens each, one token of every sequence per step, and tokens/s
// counts all of them (tgN xS). The bound: the machine's memory copy bandwidth
// (cpu::measure_copy_bandwidth: memcpy of 512 MiB over the backend's threads, read + written
// bytes per second, the best of 5) over the bytes a token needs read: for tg every weight but
// the token embedding table (one row of it), once per step and shared by its S tokens, plus the
// K/V of the context so far; for pp the
// weights once per pass and the K/V per pass, spread over the pass's tokens.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "apps/quarrel/command.h"
#include "apps/quarrel/kv_type_option.h"
#include "backend/cpu/cpu_info.h"
#include "backend/cpu/membw.h"
#include "backend/cpu_backend.h"
#ifdef QUARREL_HAVE_CUDA
#include "backend/cuda/cuda_backend.h"
#include "backend/cuda/device_info.h"
#endif
#include "core/error.h"
#include "gguf/file_type.h"
#include "gguf/keys.h"
#include "model/model.h"

namespace quarrel::cli {
namespace {

struct Args {
  std::string model;
  int32_t n_prompt = 512, n_gen = 128, reps = 3, batch = 512, parallel = 1;
  int threads = 0;
  bool json = false;
  std::string kv_type = "f16";
  std::string backend = "cpu";  // cpu or cuda
  std::string sampling = "greedy";  // what a tg step sends back: greedy, top-k or logits
};

struct TestResult {
  std::string name;  // "pp512", "tg128"
  int32_t n_tokens = 0;
  std::vector<double> tokens_per_s;  // one per run
  double mean = 0, stddev = 0;
  double bytes_per_token = 0;
  double bound_tokens_per_s = 0;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void finish_stats(TestResult& t, double bandwidth_bytes_per_s) {
  const double n = static_cast<double>(t.tokens_per_s.size());
  t.mean = std::accumulate(t.tokens_per_s.begin(), t.tokens_per_s.end(), 0.0) / n;
  double ss = 0;
  for (double v : t.tokens_per_s) ss += (v - t.mean) * (v - t.mean);
  t.stddev = n > 1 ? std::sqrt(ss / (n - 1)) : 0.0;
  t.bound_tokens_per_s = t.bytes_per_token > 0 ? bandwidth_bytes_per_s / t.bytes_per_token : 0;
}

// Sequences 0 .. S-1, sequence s owning pool blocks [s B, (s + 1) B) of the S B in the cache:
// the slot of its position p is s B block_size + p. The prompt test runs sequence 0.
class Runner {
 public:
  enum class Output { kGreedy, kTopK, kLogits };
  Runner(backend::Backend& be, int32_t batch, Output out, int32_t n_seq) : be_(be), batch_(batch), out_(out) {
    const int32_t per_seq = be.kv_config().n_blocks / n_seq;
    tables_.resize(static_cast<size_t>(n_seq));
    base_.resize(static_cast<size_t>(n_seq));
    for (int32_t s = 0; s < n_seq; ++s) {
      tables_[s].resize(static_cast<size_t>(per_seq));
      std::iota(tables_[s].begin(), tables_[s].end(), s * per_seq);
      base_[s] = s * per_seq * be.kv_config().block_size;
    }
    requests_.assign(static_cast<size_t>(n_seq), backend::CandidateRequest{.k = 40, .ids = {}});
  }

  // Runs tokens at positions [0, n) in passes of batch_ tokens; logits of the last only.
  void prompt(const std::vector<int32_t>& tokens) {
    const auto n = static_cast<int32_t>(tokens.size());
    for (int32_t b = 0; b < n; b += batch_) {
      const int32_t e = std::min(n, b + batch_);
      batch.clear();
      batch.set_sequence(0, tables_[0], e);
      for (int32_t p = b; p < e; ++p) batch.add_token(tokens[static_cast<size_t>(p)], p, 0, p, p == e - 1);
      be_.forward(batch, logits);
    }
  }

  // n decode steps of every sequence from an empty context, each step one token of each,
  // feeding back each sequence's previous best token: from the argmax (a GPU sends back only the
  // ids), the 40 best (what a top-k sampler asks for) or the whole logits row.
  void generate(int32_t n, std::vector<int32_t> toks) {
    const auto n_seq = static_cast<int32_t>(tables_.size());
    for (int32_t p = 0; p < n; ++p) {
      batch.clear();
      for (int32_t s = 0; s < n_seq; ++s) {
        batch.set_sequence(s, tables_[s], p + 1);
        batch.add_token(toks[s], p, s, base_[s] + p, true);
      }
      if (out_ == Output::kGreedy) {
        be_.forward_greedy(batch, ids_);
        for (int32_t s = 0; s < n_seq; ++s) {
          // -1: every logit of the row was NaN (a broken model, or QUARREL_CUDA_SKIP's deliberately
          // wrong steps). The step still ran; token 0 is fed back so that the timing goes on.
          const int32_t id = ids_.at(s);
          if (id < 0) ++nan_rows_;
          toks[s] = std::max(id, 0);
        }
      } else if (out_ == Output::kTopK) {
        be_.forward_candidates(batch, requests_, candidates_);
        for (int32_t s = 0; s < n_seq; ++s) toks[s] = candidates_.rows.at(s).best.at(0).id;
      } else {
        be_.forward(batch, logits);
        for (int32_t s = 0; s < n_seq; ++s) {
          const auto row = logits.row(static_cast<size_t>(s));
          toks[s] = static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
        }
      }
    }
  }

  // Decode rows whose logits were all NaN so far.
  int64_t nan_rows() const { return nan_rows_; }

  backend::Batch batch;
  backend::Logits logits;

 private:
  backend::Backend& be_;
  int32_t batch_;
  std::vector<std::vector<int32_t>> tables_;
  std::vector<int32_t> base_;  // slot of each sequence's position 0
  Output out_;
  std::vector<int32_t> ids_;
  std::vector<backend::CandidateRequest> requests_;  // the 40 best of each row
  backend::Candidates candidates_;
  int64_t nan_rows_ = 0;
};

double load_average() {
  std::ifstream f("/proc/loadavg");
  double v = -1;
  f >> v;
  return v;
}

std::string human_bytes(double b) {
  if (b >= 1 << 30) return fmt::format("{:.2f} GiB", b / (1 << 30));
  if (b >= 1 << 20) return fmt::format("{:.1f} MiB", b / (1 << 20));
  return fmt::format("{:.1f} KiB", b / 1024);
}

int run(const Args& a) {
  if (a.n_prompt < 0 || a.n_gen < 0) fail(ErrorCode::kInvalidArgument, "-p and -n must not be negative");
  if (a.n_prompt == 0 && a.n_gen == 0) fail(ErrorCode::kInvalidArgument, "nothing to measure: -p and -n are both 0");
  if (a.reps < 1) fail(ErrorCode::kInvalidArgument, "-r must be at least 1, got {}", a.reps);
  if (a.sampling != "greedy" && a.sampling != "top-k" && a.sampling != "logits")
    fail(ErrorCode::kInvalidArgument, "--sampling must be greedy, top-k or logits, got '{}'", a.sampling);
  if (a.batch < 1) fail(ErrorCode::kInvalidArgument, "--batch must be at least 1, got {}", a.batch);
  if (a.threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be at least 1, got {}", a.threads);
  if (a.parallel < 1 || a.parallel > 4096) fail(ErrorCode::kInvalidArgument, "--parallel must be 1 to 4096, got {}", a.parallel);
  const GgmlType kv_type = parse_kv_type_option(a.kv_type);

  const int32_t n_ctx = std::max(a.n_prompt, a.n_gen) + 1;
  auto model = model::Model::load(a.model, {.n_ctx = n_ctx});
  const auto& hp = model->hparams();
  constexpr int32_t kBlock = 16;
  const backend::KvCacheConfig kv{.n_blocks = backend::KvCacheConfig::blocks_for(n_ctx, kBlock) * a.parallel,
                                  .block_size = kBlock,
                                  .type = kv_type};
  std::unique_ptr<backend::Backend> be_owner;
  double bw_gb_per_s = 0;
  int n_threads = 0;
  std::string device;
  if (a.backend == "cpu") {
    auto cpu_be = std::make_unique<backend::CpuBackend>(backend::CpuBackendOptions{.n_threads = a.threads});
    backend::require_kv_type(*cpu_be, kv_type);
    cpu_be->load(model, kv);
    bw_gb_per_s = cpu::measure_copy_bandwidth(cpu_be->pool()).gb_per_s;
    n_threads = cpu_be->pool().size();
    device = "cpu: " + cpu::cpu_info_summary();
    be_owner = std::move(cpu_be);
  } else if (a.backend == "cuda") {
#ifdef QUARREL_HAVE_CUDA
    auto gpu_be = std::make_unique<backend::CudaBackend>();
    backend::require_kv_type(*gpu_be, kv_type);
    gpu_be->load(model, kv);
    bw_gb_per_s = cuda::measure_copy_bandwidth_gb_s();
    device = "gpu: " + cuda::device_info(0).name;
    be_owner = std::move(gpu_be);
#else
    fail(ErrorCode::kUnsupported, "--backend cuda: this quarrel was built without the CUDA backend");
#endif
  } else {
    fail(ErrorCode::kInvalidArgument, "--backend must be cpu or cuda, got '{}'", a.backend);
  }
  backend::Backend& be = *be_owner;
  const double bandwidth = bw_gb_per_s * 1e9;

  // Bytes read per token.
  const double weights = static_cast<double>(model->bytes_per_token());
  const double kv_per_pos = static_cast<double>(hp.n_layer) *
                            static_cast<double>(row_bytes(kv_type, static_cast<uint64_t>(hp.n_embd_k_gqa())) +
                                                row_bytes(kv_type, static_cast<uint64_t>(hp.n_embd_v_gqa())));

  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int32_t> tok(0, static_cast<int32_t>(hp.n_vocab - 1));
  const Runner::Output out = a.sampling == "greedy"  ? Runner::Output::kGreedy
                            : a.sampling == "top-k" ? Runner::Output::kTopK
                                                    : Runner::Output::kLogits;
  Runner runner(be, a.batch, out, a.parallel);
  auto random_tokens = [&] {
    std::vector<int32_t> v(static_cast<size_t>(a.parallel));
    for (auto& t : v) t = tok(rng);
    return v;
  };
  std::vector<TestResult> results;
  if (a.n_prompt > 0) {
    TestResult t{.name = fmt::format("pp{}", a.n_prompt), .n_tokens = a.n_prompt};
    std::vector<int32_t> prompt(static_cast<size_t>(a.n_prompt));
    for (auto& x : prompt) x = tok(rng);
    runner.prompt(prompt);  // warm-up
    for (int r = 0; r < a.reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      runner.prompt(prompt);
      t.tokens_per_s.push_back(a.n_prompt / seconds_since(t0));
    }
    double bytes = 0;
    for (int32_t b = 0; b < a.n_prompt; b += a.batch) bytes += weights + kv_per_pos * std::min(a.n_prompt, b + a.batch);
    t.bytes_per_token = bytes / a.n_prompt;
    finish_stats(t, bandwidth);
    results.push_back(t);
  }
  if (a.n_gen > 0) {
    TestResult t{.name = fmt::format("tg{}{}{}", a.n_gen, a.sampling == "greedy" ? "" : "-" + a.sampling,
                                     a.parallel > 1 ? fmt::format(" x{}", a.parallel) : ""),
                 .n_tokens = a.n_gen};
    runner.generate(std::min(a.n_gen, 4), random_tokens());  // warm-up
    for (int r = 0; r < a.reps; ++r) {
      const auto first = random_tokens();
      const auto t0 = std::chrono::steady_clock::now();
      runner.generate(a.n_gen, first);
      t.tokens_per_s.push_back(static_cast<double>(a.n_gen) * a.parallel / seconds_since(t0));
    }
    t.bytes_per_token = weights / a.parallel + kv_per_pos * (a.n_gen + 1) / 2.0;
    finish_stats(t, bandwidth);
    results.push_back(t);
  }

  uint64_t n_params = 0;
  for (const auto& ti : model->file().tensors()) n_params += ti.n_elements();
  const auto ftype_num = model->file().get_uint_or(gguf::keys::kGeneralFileType, UINT32_MAX);
  const auto ftype = gguf::file_type_name(static_cast<uint32_t>(ftype_num));
  const std::string ftype_s = ftype ? std::string(*ftype) : "unknown";
  const double load = load_average();
  if (runner.nan_rows() > 0) {
    std::fprintf(stderr,
                 "warning: %lld decode steps gave logits that were all NaN (the model or the backend computes "
                 "non-finite values); token 0 was fed back, so the speeds are timed but the output is meaningless\n",
                 static_cast<long long>(runner.nan_rows()));
  }

  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["architecture"] = hp.arch;
    j["parameters"] = n_params;
    j["file_type"] = ftype_s;
    j["model_bytes"] = model->weight_bytes();
    j["bytes_per_token_weights"] = model->bytes_per_token();
    j["backend"] = a.backend;
    j["threads"] = n_threads;
    j["device"] = device;
    if (a.backend == "cpu") j["cpu"] = cpu::cpu_info_summary();
    j["kv_type"] = std::string(type_name(kv_type));
    j["parallel"] = a.parallel;
    j["copy_bandwidth_gb_s"] = bw_gb_per_s;
    j["load_average_1m"] = load;
    j["nan_logits_rows"] = runner.nan_rows();
    j["tests"] = nlohmann::ordered_json::array();
    for (const auto& t : results) {
      j["tests"].push_back({{"name", t.name},
                            {"n_tokens", t.n_tokens},
                            {"repetitions", t.tokens_per_s.size()},
                            {"tokens_per_s", t.mean},
                            {"tokens_per_s_stddev", t.stddev},
                            {"runs_tokens_per_s", t.tokens_per_s},
                            {"bytes_per_token", t.bytes_per_token},
                            {"bound_tokens_per_s", t.bound_tokens_per_s},
                            {"fraction_of_bound", t.bound_tokens_per_s > 0 ? t.mean / t.bound_tokens_per_s : 0.0}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model: %s (%s, %.2f B params, %s, %s)\n", a.model.c_str(), hp.arch.c_str(), n_params / 1e9,
              ftype_s.c_str(), human_bytes(static_cast<double>(model->weight_bytes())).c_str());
  std::printf("%s; backend %s; threads %d; KV %s\n", device.c_str(), a.backend.c_str(), n_threads,
              std::string(type_name(kv_type)).c_str());
  std::printf("copy bandwidth: %.1f GB/s (read + written, best of 5); load average %.2f\n\n", bw_gb_per_s, load);
  std::printf("| %-12s | %18s | %12s | %14s | %8s |\n", "test", "tokens/s", "bytes/token", "bound tokens/s",
              "of bound");
  std::printf("|--------------|--------------------|--------------|----------------|----------|\n");
  for (const auto& t : results) {
    std::printf("| %-12s | %9.2f ± %6.2f | %12s | %14.1f | %7.1f%% |\n", t.name.c_str(), t.mean, t.stddev,
                human_bytes(t.bytes_per_token).c_str(), t.bound_tokens_per_s,
                t.bound_tokens_per_s > 0 ? 100.0 * t.mean / t.bound_tokens_per_s : 0.0);
  }
  return 0;
}

const RegisterCommand kBench{Command{
    "bench", "Measure prompt processing and generation speed and their share of the bandwidth bound",
    [](CLI::App& sub) {
      auto a = std::make_shared<Args>();
      sub.add_option("MODEL", a->model, "Model file (GGUF)")->required();
      sub.add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens for the pp test (0: skip; default 512)");
      sub.add_option("-n,--n-gen", a->n_gen, "Tokens generated in the tg test (0: skip; default 128)");
      sub.add_option("-r,--repetitions", a->reps, "Runs of each test after a warm-up (default 3)");
      sub.add_option("-t,--threads", a->threads, "Threads (default: the physical cores)");
      sub.add_option("-b,--batch", a->batch, "Prompt tokens per forward pass (default 512)");
      sub.add_option("--parallel", a->parallel,
                     "Sequences generating together in the tg test, one token of each per step, as a server's "
                     "continuous batching runs them; tokens/s counts them all (default 1)");
      sub.add_option("--kv-type", a->kv_type, kKvTypeHelp);
      sub.add_option("--backend,--device", a->backend, "Backend: cpu or cuda (default cpu)");
      sub.add_option("--sampling", a->sampling,
                     "What each tg step sends back: greedy (the argmax), top-k (the 40 best, as a top-k sampler asks) "
                     "or logits (the whole row) (default greedy)");
      sub.add_flag("--json", a->json, "Print the results as JSON");
      sub.footer(
          "tokens/s is the mean ± standard deviation over the runs. The bound is the copy bandwidth (read + written "
          "bytes per second of a 512 MiB memcpy) over the bytes read per token: all weights but the embedding table "
          "(one row of it) plus the K/V read; 'of bound' is the measured share of it.");
      return [a] { return run(*a); };
    }}};

}  // namespace
}  // namespace quarrel::cli
