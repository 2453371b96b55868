#pragma once
// Continuous batching at the level of engine iterations: which sequences run in the next
// forward pass, and which of their tokens. Pure bookkeeping over kv::KvCacheManager (no model,
// no device code), so it is tested without a backend.
//
// Each schedule():
//   1. Running sequences that decode get a KV slot for the token they sampled last step. When
//      the pool is out of blocks, the sequence admitted last (batch priority before
//      interactive) is preempted: its blocks are released (its full blocks stay in the prefix
//      cache, so re-admission usually recomputes little) and it goes back to the front of the
//      waiting queue.
//   2. If nothing was preempted, waiting sequences are admitted in priority order (interactive
//      first, then batch; first come first served within each) while there is a free running
//      slot and their prompt's blocks fit with one spare block per running sequence (so the
//      next decode steps do not preempt at once). The queue head is never skipped: a long
//      prompt cannot starve behind short ones.
//   3. The batch: every decoding sequence's one token first, then prompt chunks, in admission
//      order, within max_batch_tokens (chunked prefill: a long prompt spreads over several
//      iterations while the others keep decoding). A sequence's logits are asked for when its
//      chunk reaches its last token.
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "backend/batch.h"
#include "kv/kv_cache_manager.h"
#include "runtime/sequence.h"

namespace quarrel::runtime {

struct SchedulerConfig {
  int32_t max_running = 8;         // sequences in the running set at once
  int32_t max_batch_tokens = 512;  // tokens per forward pass (decode tokens count too)
};

// One sequence's part of a step.
struct StepEntry {
  Sequence* seq = nullptr;
  int32_t begin = 0;     // first token fed (a position)
  int32_t n = 0;         // tokens fed
  int32_t logits_row = -1;  // row of the step's Logits when the chunk ends at the last token
};

struct StepPlan {
  backend::Batch batch;
  std::vector<StepEntry> entries;
  std::vector<kv::BlockCopy> copies;  // run before the forward pass
  int32_t n_preempted = 0;            // preemptions this step
  int32_t n_admitted = 0;

  bool empty() const { return batch.empty(); }
};

class Scheduler {
 public:
  Scheduler(kv::KvCacheManager& kv, SchedulerConfig config);

  // A new request (sequence state built, nothing in the cache) joins the back of its queue.
  void enqueue(std::unique_ptr<Sequence> seq);

  // Builds the next step into `plan` (cleared first). Empty when nothing can run.
  void schedule(StepPlan& plan);

  // Removes a sequence (finished, cancelled, timed out), waiting or running, releasing its
  // blocks at once. Returns it.
  std::unique_ptr<Sequence> remove(Sequence* seq);

  size_t n_waiting() const { return waiting_[0].size() + waiting_[1].size(); }
  size_t n_running() const { return running_.size(); }
  bool idle() const { return running_.empty() && n_waiting() == 0; }
  int64_t n_preemptions() const { return n_preemptions_; }

  // Every sequence, running first (in admission order), then waiting (in queue order).
  std::vector<Sequence*> all() const;
  const std::vector<std::unique_ptr<Sequence>>& running() const { return running_; }

  const SchedulerConfig& config() const { return config_; }

 private:
  std::deque<std::unique_ptr<Sequence>>& queue(Priority p) { return waiting_[static_cast<int>(p)]; }
  bool grow_running(StepPlan& plan);  // step 1; false when something was preempted
  void admit(StepPlan& plan);         // step 2
  void build_batch(StepPlan& plan);   // step 3
  void preempt(size_t running_index, StepPlan& plan);
  size_t victim() const;              // index in running_ of the sequence to preempt

  kv::KvCacheManager& kv_;
  SchedulerConfig config_;
  std::deque<std::unique_ptr<Sequence>> waiting_[2];  // by Priority
  std::vector<std::unique_ptr<Sequence>> running_;     // in admission order
  int64_t n_preemptions_ = 0;
};

}  // namespace quarrel::runtime
