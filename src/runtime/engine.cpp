#include "runtime/engine.h"

#include <algorithm>

#include "core/log.h"
#include "model/model.h"

namespace quarrel::runtime {
namespace {

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

EngineConfig checked(EngineConfig c, const backend::Backend& be) {
  const int64_t slots = be.kv_config().n_slots();
  const int64_t model_ctx = be.model().hparams().n_ctx;
  if (c.n_ctx < 0) fail(ErrorCode::kInvalidArgument, "engine: n_ctx must not be negative, got {}", c.n_ctx);
  if (c.n_ctx == 0) c.n_ctx = static_cast<int32_t>(std::min<int64_t>({slots, model_ctx > 0 ? model_ctx : slots, INT32_MAX}));
  if (c.n_ctx > slots) {
    fail(ErrorCode::kInvalidArgument, "engine: a context of {} tokens does not fit the KV pool ({} slots)", c.n_ctx,
         slots);
  }
  if (c.n_ctx < 2) fail(ErrorCode::kInvalidArgument, "engine: the context must hold at least 2 tokens");
  if (c.max_running < 1) fail(ErrorCode::kInvalidArgument, "engine: max_running must be at least 1");
  if (c.max_batch_tokens < 1) fail(ErrorCode::kInvalidArgument, "engine: max_batch_tokens must be at least 1");
  if (c.max_queue < 0) fail(ErrorCode::kInvalidArgument, "engine: max_queue must not be negative");
  return c;
}

}  // namespace

Engine::Engine(std::unique_ptr<backend::Backend> backend, std::optional<tokenizer::Tokenizer> tokenizer,
               EngineConfig config)
    : backend_(std::move(backend)),
      tokenizer_(std::move(tokenizer)),
      config_(checked(config, *backend_)),
      n_vocab_(static_cast<int32_t>(backend_->model().hparams().n_vocab)),
      kv_(backend_->kv_config().n_blocks, backend_->kv_config().block_size, config_.prefix_caching),
      scheduler_(kv_, SchedulerConfig{config_.max_running, config_.max_batch_tokens}) {
  using CS = EngineConfig::CandidateSampling;
  device_sampling_ = config_.candidate_sampling == CS::kAlways ||
                     (config_.candidate_sampling == CS::kAuto && backend_->capabilities().device_memory);
  publish_stats(false);
}

Engine::~Engine() { stop(); }

void Engine::start() {
  if (stopped_) fail(ErrorCode::kInvalidArgument, "engine: already stopped");
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { loop(); });
}

void Engine::stop() {
  if (stopped_.exchange(true)) return;
  {
    std::lock_guard lock(inbox_->mu);
    inbox_->stop = true;
    inbox_->cv.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  // The engine's state is this thread's now: end whatever is left.
  take_incoming();
  for (Sequence* s : scheduler_.all()) finish(s, StopReason::kCancelled);
  flush_finished(false);
}

bool Engine::step() {
  if (thread_.joinable()) fail(ErrorCode::kInternal, "engine: step() while the engine thread runs");
  return iterate();
}

void Engine::run_until_idle() {
  while (step()) {
  }
}

std::unique_ptr<Sequence> Engine::make_sequence(Request&& r, std::shared_ptr<RequestHandle> handle) {
  auto seq = std::make_unique<Sequence>();
  if (!r.prompt.empty()) {
    seq->tokens = std::move(r.prompt);
  } else if (!r.prompt_text.empty()) {
    if (!tokenizer_) fail(ErrorCode::kInvalidArgument, "the model has no tokenizer: send the prompt as token ids");
    seq->tokens = tokenizer_->encode(r.prompt_text, r.add_special, r.parse_special);
  }
  if (seq->tokens.empty()) fail(ErrorCode::kInvalidArgument, "the prompt is empty");
  for (TokenId t : seq->tokens) {
    if (t < 0 || t >= n_vocab_) fail(ErrorCode::kInvalidArgument, "prompt token {} is outside the vocabulary [0, {})", t, n_vocab_);
  }
  if (static_cast<int64_t>(seq->tokens.size()) >= config_.n_ctx) {
    throw ContextOverflowError(fmt::format("the prompt has {} tokens; the context holds {} (prompt and reply)",
                                           seq->tokens.size(), config_.n_ctx));
  }
  for (TokenId t : r.stop_tokens) {
    if (t < 0 || t >= n_vocab_) fail(ErrorCode::kInvalidArgument, "stop token {} is outside the vocabulary [0, {})", t, n_vocab_);
  }
  seq->sampler = std::make_unique<sampling::Sampler>(r.sampling, n_vocab_);
  seq->sampler->accept(seq->tokens);  // the prompt counts for the penalties (as llama.cpp)
  sampling::StopConditions cond;
  cond.stop_strings = std::move(r.stop);
  if (!r.ignore_eos && tokenizer_) cond.stop_tokens = tokenizer_->eog_ids();
  cond.stop_tokens.insert(cond.stop_tokens.end(), r.stop_tokens.begin(), r.stop_tokens.end());
  cond.max_tokens = r.max_tokens;
  seq->stop = std::make_unique<sampling::StopChecker>(std::move(cond));
  if (tokenizer_) {
    // The generated text continues the prompt: run the detokenizer over the prompt's start
    // (until it has produced text) so that decode()'s leading-space rule applies to the
    // prompt, not to the first generated token, then drop what it made.
    seq->detok.emplace(*tokenizer_, tokenizer::IncrementalDetokenizer::Options{true, true});
    for (TokenId t : seq->tokens) {
      if (!seq->detok->push(t).empty() || seq->detok->pending() > 0) break;
    }
    seq->detok->flush();
  }

  seq->id = handle->id();
  seq->handle = std::move(handle);
  seq->priority = r.priority;
  seq->n_prompt = static_cast<int32_t>(seq->tokens.size());
  seq->n_ctx = config_.n_ctx;
  seq->t_submit = Clock::now();
  const auto timeout = r.timeout.count() > 0 ? r.timeout : config_.default_timeout;
  if (timeout.count() > 0) seq->deadline = seq->t_submit + timeout;
  return seq;
}

std::shared_ptr<RequestHandle> Engine::submit(Request request, EventSink sink) {
  if (stopped_) fail(ErrorCode::kInvalidArgument, "the engine has stopped");
  const RequestId id = next_id_.fetch_add(1);
  std::weak_ptr<Inbox> inbox = inbox_;
  auto handle = std::make_shared<RequestHandle>(id, std::move(sink), [inbox] {
    if (auto in = inbox.lock()) {
      std::lock_guard lock(in->mu);
      in->poke = true;
      in->cv.notify_all();
    }
  });
  const bool nothing_to_do = request.max_tokens == 0;
  std::unique_ptr<Sequence> seq = make_sequence(std::move(request), handle);
  if (nothing_to_do) {  // answered at once: no tokens asked for
    TokenEvent ev;
    ev.request = id;
    ev.final = true;
    ev.reason = StopReason::kLength;
    ev.usage.prompt_tokens = seq->n_prompt;
    if (observer_) observer_->on_finish(id, ev);
    handle->deliver(std::move(ev));
    std::lock_guard lock(stats_mu_);
    ++stats_.requests_submitted;
    ++stats_.requests_finished;
    stats_.prompt_tokens += static_cast<uint64_t>(seq->n_prompt);
    return handle;
  }
  {
    std::lock_guard lock(inbox_->mu);
    if (inbox_->stop) fail(ErrorCode::kInvalidArgument, "the engine has stopped");
    const auto waiting = static_cast<int64_t>(inbox_->incoming.size()) + n_waiting_.load();
    if (waiting >= config_.max_queue) {
      {
        std::lock_guard slock(stats_mu_);
        ++stats_.requests_rejected;
      }
      throw OverloadedError(fmt::format("the engine is overloaded: {} requests are already waiting", waiting));
    }
    inbox_->incoming.push_back(std::move(seq));
    inbox_->poke = true;
    inbox_->cv.notify_all();
  }
  std::lock_guard lock(stats_mu_);
  ++stats_.requests_submitted;
  return handle;
}

void Engine::take_incoming() {
  std::deque<std::unique_ptr<Sequence>> in;
  {
    std::lock_guard lock(inbox_->mu);
    in.swap(inbox_->incoming);
    inbox_->poke = false;
  }
  for (auto& s : in) scheduler_.enqueue(std::move(s));
  n_waiting_ = static_cast<int32_t>(scheduler_.n_waiting());
}

void Engine::end_cancelled_and_expired() {
  const auto now = Clock::now();
  for (Sequence* s : scheduler_.all()) {
    if (s->handle->cancel_requested()) {
      finish(s, StopReason::kCancelled);
    } else if (now >= s->deadline) {
      finish(s, StopReason::kTimeout);
    }
  }
  if (!finished_.empty()) flush_finished(false);
}

bool Engine::iterate() {
  take_incoming();
  end_cancelled_and_expired();
  scheduler_.schedule(plan_);
  if (plan_.empty()) {
    publish_stats(false);
    return false;
  }
  try {
    if (!plan_.copies.empty()) backend_->copy_blocks(plan_.copies);
    if (use_candidates()) {
      backend_->forward_candidates(plan_.batch, requests_, candidates_);
    } else {
      needs_.clear();
      backend_->forward(plan_.batch, logits_);
    }
  } catch (const std::exception& e) {
    log::error("engine: forward pass failed", {{"error", e.what()}, {"batch_tokens", plan_.batch.size()}});
    for (const StepEntry& e2 : plan_.entries) finish(e2.seq, StopReason::kError, e.what());
    flush_finished(true);
    return true;
  }
  sample_step();
  flush_finished(true);
  return true;
}

bool Engine::use_candidates() {
  needs_.clear();
  requests_.clear();
  if (!device_sampling_) return false;
  const size_t rows = plan_.batch.n_logits();
  needs_.resize(rows);
  requests_.resize(rows);
  for (const StepEntry& e : plan_.entries) {
    if (e.logits_row < 0) continue;
    std::optional<sampling::CandidateNeed> need = e.seq->sampler->candidate_need(config_.max_candidates);
    if (!need) {
      needs_.clear();
      requests_.clear();
      return false;
    }
    const auto row = static_cast<size_t>(e.logits_row);
    requests_[row] = {.k = need->k, .ids = need->ids};
    needs_[row] = std::move(*need);
  }
  return true;
}

void Engine::sample_step() {
  for (const StepEntry& e : plan_.entries) {
    Sequence& s = *e.seq;
    s.n_computed = e.begin + e.n;
    kv_.commit(s.id, s.n_computed);
    if (e.logits_row < 0) continue;
    const auto row = static_cast<size_t>(e.logits_row);
    try {
      if (needs_.empty()) {
        take_token(s, s.sampler->sample(logits_.row(row), scratch_));
      } else {
        const backend::RowCandidates& c = candidates_.rows[row];
        best_.clear();
        for (const backend::TokenLogit& t : c.best) best_.push_back({t.id, t.logit});
        take_token(s, s.sampler->sample_candidates(needs_[row], best_, c.named));
      }
    } catch (const std::exception& ex) {
      finish(&s, StopReason::kError, ex.what());
    }
  }
}

void Engine::take_token(Sequence& seq, sampling::SampleResult r) {
  seq.sampler->accept(r.token);
  seq.tokens.push_back(r.token);
  ++seq.n_generated;
  const auto now = Clock::now();
  if (observer_) {
    const bool first = seq.n_generated == 1;
    observer_->on_token(seq.id, first, std::chrono::duration<double>(now - (first ? seq.t_submit : seq.t_last_token)).count());
  }
  if (seq.n_generated == 1) seq.t_first_token = now;
  seq.t_last_token = now;

  const std::string piece = seq.detok ? seq.detok->push(r.token) : std::string();
  sampling::StopChecker::Step st = seq.stop->on_token(r.token, piece);
  StopReason reason = st.reason;
  if (reason != StopReason::kStopToken) {  // a stop token is never shown
    TokenEvent ev;
    ev.request = seq.id;
    ev.token = r.token;
    ev.text = std::move(st.text);
    const auto& p = seq.sampler->params();
    if (p.logprobs || p.top_logprobs > 0) {
      ev.logprob = r.logprob;
      ev.top_logprobs = std::move(r.top);
    }
    try {
      seq.handle->deliver(std::move(ev));
    } catch (const std::exception& ex) {
      log::warn("engine: event sink threw", {{"request", seq.id}, {"error", ex.what()}});
    }
  }
  if (reason == StopReason::kNone && seq.n_tokens() >= seq.n_ctx) reason = StopReason::kContextFull;
  if (reason != StopReason::kNone) finish(&seq, reason);
}

void Engine::finish(Sequence* seq, StopReason reason, std::string error) {
  if (seq->ended) return;
  seq->ended = true;
  const auto now = Clock::now();
  TokenEvent ev;
  ev.request = seq->id;
  ev.final = true;
  ev.reason = reason;
  ev.error = std::move(error);
  ev.text = seq->stop->finish(reason);
  if (reason != StopReason::kStopString && seq->detok) ev.text += seq->detok->flush();
  ev.usage = {seq->n_prompt, seq->n_cached_prompt, seq->n_generated};
  Timings& t = ev.timings;
  t.queue_ms = ms_between(seq->t_submit, seq->admitted_once ? seq->t_admit : now);
  if (seq->admitted_once) t.prompt_ms = ms_between(seq->t_admit, seq->n_generated > 0 ? seq->t_first_token : now);
  if (seq->n_generated > 1) t.generate_ms = ms_between(seq->t_first_token, seq->t_last_token);
  t.total_ms = ms_between(seq->t_submit, now);
  finished_.push_back({seq, std::move(ev)});
}

void Engine::flush_finished(bool ran_forward) {
  // Release the blocks and publish the stats first, so that whoever reads the final event
  // finds the sequence gone (metrics, tests).
  std::vector<std::pair<std::unique_ptr<Sequence>, TokenEvent>> done;
  for (auto& [seq, ev] : finished_) done.emplace_back(scheduler_.remove(seq), std::move(ev));
  finished_.clear();
  {
    std::lock_guard lock(stats_mu_);
    for (const auto& [seq, ev] : done) {
      ++stats_.requests_finished;
      stats_.prompt_tokens += static_cast<uint64_t>(seq->n_prompt);
      stats_.cached_prompt_tokens += static_cast<uint64_t>(seq->n_cached_prompt);
      stats_.generated_tokens += static_cast<uint64_t>(seq->n_generated);
    }
  }
  publish_stats(ran_forward);
  for (auto& [seq, ev] : done) {
    if (observer_) observer_->on_finish(seq->id, ev);
    try {
      seq->handle->deliver(std::move(ev));
    } catch (const std::exception& ex) {
      log::warn("engine: event sink threw", {{"request", seq->id}, {"error", ex.what()}});
    }
  }
}

void Engine::fail_all(const std::string& error) {
  for (Sequence* s : scheduler_.all()) finish(s, StopReason::kError, error);
  flush_finished(false);
}

void Engine::publish_stats(bool ran_forward) {
  const kv::KvCacheStats ks = kv_.stats();
  n_waiting_ = static_cast<int32_t>(scheduler_.n_waiting());
  std::lock_guard lock(stats_mu_);
  stats_.queue_depth = static_cast<int32_t>(scheduler_.n_waiting());
  stats_.active_sequences = static_cast<int32_t>(scheduler_.n_running());
  stats_.kv_blocks_total = ks.blocks_total;
  stats_.kv_blocks_used = ks.blocks_used;
  stats_.kv_blocks_cached = ks.blocks_cached;
  stats_.preemptions = static_cast<uint64_t>(scheduler_.n_preemptions());
  if (ran_forward) ++stats_.iterations;
}

void Engine::set_observer(std::shared_ptr<EngineObserver> observer) {
  if (thread_.joinable()) fail(ErrorCode::kInternal, "engine: set_observer() after start()");
  observer_ = std::move(observer);
}

EngineStats Engine::stats() const {
  size_t incoming = 0;
  {
    std::lock_guard lock(inbox_->mu);
    incoming = inbox_->incoming.size();
  }
  std::lock_guard lock(stats_mu_);
  EngineStats s = stats_;
  s.queue_depth += static_cast<int32_t>(incoming);
  return s;
}

void Engine::loop() {
  for (;;) {
    bool worked = false;
    try {
      worked = iterate();
    } catch (const std::exception& e) {
      // A broken invariant: end every request rather than the process.
      log::error("engine: iteration failed", {{"error", e.what()}});
      fail_all(e.what());
    }
    std::unique_lock lock(inbox_->mu);
    if (inbox_->stop) return;
    if (!worked) {
      inbox_->cv.wait(lock, [&] { return inbox_->stop || inbox_->poke || !inbox_->incoming.empty(); });
      inbox_->poke = false;
      if (inbox_->stop) return;
    }
  }
}

}  // namespace quarrel::runtime
