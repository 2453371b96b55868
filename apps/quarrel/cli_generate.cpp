#include "apps/quarrel/cli_generate.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>

#include "apps/quarrel/kv_type_option.h"
#include "chat/named_templates.h"
#include "core/error.h"
#include "model/model.h"

namespace quarrel::cli {
namespace {

volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_second_kills = 1;

void on_sigint(int) {
  if (g_interrupted && g_second_kills) {
    std::signal(SIGINT, SIG_DFL);
    std::raise(SIGINT);
  }
  g_interrupted = 1;
}

void install_sigint(bool second_kills) {
  g_second_kills = second_kills ? 1 : 0;
  g_interrupted = 0;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGINT, &sa, nullptr);
}

void print_timing(const Answer& a) {
  const auto& u = a.usage;
  const auto& t = a.timings;
  std::fprintf(stderr,
               "[prompt: %d tokens (%d cached) in %.0f ms, %.1f tokens/s | generation: %d tokens in %.0f ms, %.1f "
               "tokens/s | %s]\n",
               u.prompt_tokens, u.cached_prompt_tokens, t.prompt_ms, t.prompt_tokens_per_second(u), u.generated_tokens,
               t.generate_ms, t.generate_tokens_per_second(u), std::string(sampling::to_string(a.reason)).c_str());
}

const tokenizer::Tokenizer& require_tokenizer(const runtime::Engine& e) {
  if (!e.tokenizer()) fail(ErrorCode::kUnsupported, "{}: the model has no tokenizer", e.model().path());
  return *e.tokenizer();
}

}  // namespace

void add_sampling_options(CLI::App& sub, RunArgs& a) {
  sub.add_option("--temp", a.temp, "Temperature (0: greedy; default 0.8)");
  sub.add_option("--top-k", a.top_k, "Top-k (0: off; default 40)");
  sub.add_option("--top-p", a.top_p, "Top-p (1: off; default 0.95)");
  sub.add_option("--min-p", a.min_p, "Min-p (0: off; default 0.05)");
  sub.add_option("--typical-p", a.typical_p, "Locally typical sampling (1: off; default 1)");
  sub.add_option("--repeat-penalty", a.repeat_penalty, "Repetition penalty (1: off; default 1)");
  sub.add_option("--repeat-last-n", a.repeat_last_n, "Penalty window in tokens (0: off, -1: everything; default 64)");
  sub.add_option("--presence-penalty", a.presence_penalty, "Presence penalty (default 0)");
  sub.add_option("--frequency-penalty", a.frequency_penalty, "Frequency penalty (default 0)");
  sub.add_option("--seed", a.seed, "Random seed (default: a random one)");
}

void add_engine_options(CLI::App& sub, RunArgs& a) {
  sub.add_option("-c,--ctx", a.ctx, "Context size in tokens, prompt and reply (0: the model's; default 4096)");
  sub.add_option("-t,--threads", a.threads, "Threads (default: the physical cores)");
  sub.add_option("-b,--batch", a.batch, "Prompt tokens per forward pass (default 512)");
  sub.add_option("--kv-type", a.kv_type, kKvTypeHelp);
  sub.add_option("--backend,--device", a.backend, "Backend: cpu or cuda (default cpu)");
}

sampling::SamplingParams sampling_params(const RunArgs& a) {
  sampling::SamplingParams p;
  p.temperature = a.temp;
  p.top_k = a.top_k;
  p.top_p = a.top_p;
  p.min_p = a.min_p;
  p.typical_p = a.typical_p;
  p.repeat_penalty = a.repeat_penalty;
  p.repeat_last_n = a.repeat_last_n;
  p.presence_penalty = a.presence_penalty;
  p.frequency_penalty = a.frequency_penalty;
  if (a.seed >= 0) p.seed = static_cast<uint64_t>(a.seed);
  if (a.n_predict < -1) fail(ErrorCode::kInvalidArgument, "-n must be -1 or more, got {}", a.n_predict);
  return p;
}

std::unique_ptr<runtime::Engine> load_engine(const RunArgs& a) {
  if (!runtime::is_backend_name(a.backend))
    fail(ErrorCode::kInvalidArgument, "--backend must be cpu or cuda, got '{}'", a.backend);
  runtime::EngineOptions o;
  o.model_path = a.model;
  o.backend = a.backend;
  o.n_ctx = a.ctx;
  o.n_threads = a.threads;
  o.kv_type = parse_kv_type_option(a.kv_type);
  if (a.batch < 1) fail(ErrorCode::kInvalidArgument, "--batch must be at least 1, got {}", a.batch);
  o.engine.max_running = 1;
  o.engine.max_batch_tokens = a.batch;
  o.engine.default_timeout = std::chrono::milliseconds(0);
  return runtime::load_engine(o);
}

Answer stream_answer(runtime::Engine& engine, runtime::Request request, bool keep_running_on_sigint) {
  install_sigint(!keep_running_on_sigint);
  Answer ans;
  std::shared_ptr<runtime::RequestHandle> h = engine.submit(std::move(request));
  runtime::TokenEvent ev;
  for (;;) {
    const auto w = h->next_for(ev, std::chrono::milliseconds(50));
    if (g_interrupted) h->cancel();
    if (w == runtime::RequestHandle::Wait::kTimeout) continue;
    if (w == runtime::RequestHandle::Wait::kEnd) break;
    if (!ev.text.empty()) {
      std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
      std::fflush(stdout);
      ans.text += ev.text;
    }
    if (ev.final) {
      ans.reason = ev.reason;
      ans.error = ev.error;
      ans.usage = ev.usage;
      ans.timings = ev.timings;
      break;
    }
  }
  g_interrupted = 0;
  if (::isatty(STDOUT_FILENO) == 1 && (ans.text.empty() || ans.text.back() != '\n')) {
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }
  print_timing(ans);
  return ans;
}

ChatPrompt::ChatPrompt(const runtime::Engine& engine, const std::string& template_name)
    : tok_(require_tokenizer(engine)),
      tmpl_([&] {
        auto sel = chat::select_template(engine.model().file(),
                                         template_name.empty() ? std::nullopt : std::optional(template_name));
        origin_ = sel.origin;
        return sel.source;
      }()) {
  if (tok_.bos() >= 0) opts_.bos_token = tok_.token_text(tok_.bos());
  if (tok_.eos() >= 0) opts_.eos_token = tok_.token_text(tok_.eos());
  opts_.add_generation_prompt = true;
}

std::vector<int32_t> ChatPrompt::tokens(const nlohmann::ordered_json& messages) const {
  const std::string text = tmpl_.render(messages, opts_);
  std::vector<int32_t> ids = tok_.encode(text, /*add_special=*/false, /*parse_special=*/true);
  if (tok_.add_bos() && tok_.bos() >= 0 && (ids.empty() || ids.front() != tok_.bos())) ids.insert(ids.begin(), tok_.bos());
  return ids;
}

}  // namespace quarrel::cli
