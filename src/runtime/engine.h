#pragma once
// The engine: one thread owns the backend (model weights and KV pool), the KV bookkeeping and
// every live sequence; callers on any thread submit requests and receive token events.
//
//   auto engine = runtime::load_cpu_engine({.model_path = "m.gguf", .n_ctx = 4096});
//   engine->start();
//   auto h = engine->submit({.prompt_text = "Once upon a time", .max_tokens = 32});
//   for (runtime::TokenEvent ev; h->next(ev);) std::cout << ev.text;
//
// Each iteration of the loop: take newly submitted requests, end the cancelled and timed-out
// ones, let the Scheduler pick one batch mixing prompt chunks and decoding sequences
// (continuous batching), run the backend's forward pass, sample every sequence whose logits
// came back, send the events, and end finished sequences, freeing their KV blocks at once.
// Prompts reuse prefix-cached KV blocks (Usage::cached_prompt_tokens says how many tokens).
//
// submit() validates the request on the caller's thread (tokenizing a text prompt there) and
// throws: Error(kInvalidArgument) for a bad request, ContextOverflowError for a prompt that does
// not fit the context, OverloadedError when max_queue requests are already waiting.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "backend/backend.h"
#include "kv/kv_cache_manager.h"
#include "model/model.h"
#include "runtime/request.h"
#include "runtime/request_handle.h"
#include "runtime/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace quarrel::runtime {

struct EngineConfig {
  int32_t n_ctx = 0;               // most tokens per sequence (prompt + generated); 0: the KV pool's size
  int32_t max_running = 8;         // sequences decoding at once
  int32_t max_batch_tokens = 512;  // tokens per forward pass (prompt chunks + decode tokens)
  int32_t max_queue = 64;          // waiting requests; submit() beyond it throws OverloadedError
  std::chrono::milliseconds default_timeout{std::chrono::minutes(5)};  // Request::timeout == 0
  bool prefix_caching = true;
  // Sampling from candidates (the k best tokens and the biased / penalized ones, selected by
  // the backend) instead of whole logits rows, in steps where every sequence's settings allow
  // it (Sampler::candidate_need): the same tokens either way. kAuto: on device backends, so
  // that only the candidates leave the GPU; kAlways: on any backend; kNever: whole rows.
  enum class CandidateSampling { kAuto, kAlways, kNever };
  CandidateSampling candidate_sampling = CandidateSampling::kAuto;
  int32_t max_candidates = 1024;  // the most candidates a row may ask for
};

// A snapshot for metrics (quarrel_queue_depth, quarrel_kv_blocks_used, ...).
struct EngineStats {
  int32_t queue_depth = 0;       // submitted, not yet running
  int32_t active_sequences = 0;  // in the running set
  int32_t kv_blocks_total = 0;
  int32_t kv_blocks_used = 0;    // held by live sequences
  int32_t kv_blocks_cached = 0;  // idle prefix-cache blocks (reusable, evicted on demand)
  uint64_t requests_submitted = 0;
  uint64_t requests_rejected = 0;  // overloaded
  uint64_t requests_finished = 0;
  uint64_t prompt_tokens = 0;
  uint64_t cached_prompt_tokens = 0;
  uint64_t generated_tokens = 0;
  uint64_t iterations = 0;       // forward passes
  uint64_t preemptions = 0;
};

// Watches every request on the engine thread (the server's metrics and token rate limits). Calls
// must be quick and must not block. on_finish may also come from submit()'s thread (a request
// asking for no tokens).
class EngineObserver {
 public:
  virtual ~EngineObserver() = default;
  // A token was sampled: the first of its request (`seconds` since submit: time to first
  // token), or a later one (`seconds` since the previous token: inter-token latency).
  virtual void on_token(RequestId id, bool first, double seconds) = 0;
  // The request ended: its final event (reason, usage, timings), just before it is delivered.
  virtual void on_finish(RequestId id, const TokenEvent& final_event) = 0;
};

class Engine {
 public:
  // Takes a loaded backend. The tokenizer gives text prompts, event text, stop strings and the
  // model's end-of-generation tokens; without one, prompts must be ids and events carry ids only.
  Engine(std::unique_ptr<backend::Backend> backend, std::optional<tokenizer::Tokenizer> tokenizer,
         EngineConfig config = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Starts the engine thread. Without it, step() drives the engine from the caller (tests).
  void start();
  // Ends every request (StopReason::kCancelled) and stops the thread. Idempotent.
  void stop();
  bool running() const { return thread_.joinable(); }

  // One iteration on the calling thread (only when the thread is not started); false when
  // there was nothing to do.
  bool step();
  // step() until nothing is left.
  void run_until_idle();

  // Thread-safe. Without a sink, events queue in the handle (RequestHandle::next).
  std::shared_ptr<RequestHandle> submit(Request request, EventSink sink = {});
  // The same as handle->cancel().
  static void cancel(RequestHandle& handle) { handle.cancel(); }

  EngineStats stats() const;
  // Installs the observer; only before start().
  void set_observer(std::shared_ptr<EngineObserver> observer);
  const backend::Backend& backend() const { return *backend_; }
  const model::Model& model() const { return backend_->model(); }
  const tokenizer::Tokenizer* tokenizer() const { return tokenizer_ ? &*tokenizer_ : nullptr; }
  int32_t n_ctx() const { return config_.n_ctx; }
  const EngineConfig& config() const { return config_; }

 private:
  std::unique_ptr<Sequence> make_sequence(Request&& r, std::shared_ptr<RequestHandle> handle);
  bool iterate();            // one loop iteration (engine thread, or step())
  void take_incoming();
  void end_cancelled_and_expired();
  // Samples every sequence of the step that has logits: from candidates when
  // use_candidates() set up requests_, else from logits_.
  void sample_step();
  bool use_candidates();
  void take_token(Sequence& seq, sampling::SampleResult r);
  void finish(Sequence* seq, StopReason reason, std::string error = {});
  void flush_finished(bool ran_forward);
  void fail_all(const std::string& error);
  void publish_stats(bool ran_forward);
  void loop();

  std::unique_ptr<backend::Backend> backend_;
  std::optional<tokenizer::Tokenizer> tokenizer_;
  EngineConfig config_;
  int32_t n_vocab_ = 0;
  kv::KvCacheManager kv_;
  Scheduler scheduler_;
  StepPlan plan_;
  backend::Logits logits_;
  sampling::CandidateList scratch_;
  bool device_sampling_ = false;  // candidates on this backend (config_.candidate_sampling)
  std::vector<sampling::CandidateNeed> needs_;       // per logits row, when sampling from candidates
  std::vector<backend::CandidateRequest> requests_;  // the same, as the backend takes them
  backend::Candidates candidates_;
  std::vector<sampling::Candidate> best_;
  // Ended this iteration, with their final events: flush_finished() removes them (freeing
  // their blocks), publishes the stats, then sends the events.
  std::vector<std::pair<Sequence*, TokenEvent>> finished_;

  // Shared with submitting threads.
  struct Inbox {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::unique_ptr<Sequence>> incoming;
    bool stop = false;
    bool poke = false;  // a cancel or a new request since the loop last looked
  };
  std::shared_ptr<Inbox> inbox_ = std::make_shared<Inbox>();
  std::atomic<int32_t> n_waiting_{0};  // scheduler's waiting queue, as of the last iteration
  std::atomic<uint64_t> next_id_{1};
  std::thread thread_;
  std::atomic<bool> stopped_{false};

  mutable std::mutex stats_mu_;
  EngineStats stats_;
  std::shared_ptr<EngineObserver> observer_;
};

// Everything `quarrel run` / `quarrel serve` need to run a GGUF model on a backend.
struct CpuEngineOptions {
  std::string model_path;
  std::string backend = "cpu";   // "cpu", or "cuda" (builds with the CUDA backend; KV F16 only)
  int64_t n_ctx = 4096;          // per sequence; 0: the model's context length
  int n_threads = 0;             // 0: the physical cores
  GgmlType kv_type = GgmlType::F16;
  int32_t block_size = 16;
  int32_t n_blocks = 0;          // KV pool size; 0: n_ctx tokens for every running sequence
  EngineConfig engine;           // engine.n_ctx is set from n_ctx
};

using EngineOptions = CpuEngineOptions;

// Loads the model (mmap), its tokenizer and the backend options.backend names; the engine is
// not started. Errors name the file (Model::load, Tokenizer::from_gguf) or the bad option;
// "cuda" in a build without the CUDA backend, or with no GPU, is Error(kUnsupported).
std::unique_ptr<Engine> load_engine(const EngineOptions& options);
// load_engine on the CPU backend, whatever options.backend says.
std::unique_ptr<Engine> load_cpu_engine(const CpuEngineOptions& options);

// The backend names load_engine knows ("cpu", "cuda"), whether or not this build has them.
bool is_backend_name(const std::string& name);

}  // namespace quarrel::runtime
