#include "runtime/scheduler.h"

#include <algorithm>

#include "core/error.h"

namespace quarrel::runtime {

Scheduler::Scheduler(kv::KvCacheManager& kv, SchedulerConfig config) : kv_(kv), config_(config) {
  if (config_.max_running < 1) fail(ErrorCode::kInvalidArgument, "scheduler: max_running must be at least 1");
  if (config_.max_batch_tokens < config_.max_running) config_.max_batch_tokens = config_.max_running;
}

void Scheduler::enqueue(std::unique_ptr<Sequence> seq) {
  QUARREL_ASSERT(seq && !seq->tokens.empty());
  queue(seq->priority).push_back(std::move(seq));
}

void Scheduler::schedule(StepPlan& plan) {
  plan.batch.clear();
  plan.entries.clear();
  plan.copies.clear();
  plan.n_preempted = 0;
  plan.n_admitted = 0;
  if (grow_running(plan)) admit(plan);
  build_batch(plan);
}

size_t Scheduler::victim() const {
  // The last admitted among the lowest priority present.
  size_t best = running_.size() - 1;
  for (size_t i = running_.size(); i-- > 0;) {
    if (running_[i]->priority > running_[best]->priority) best = i;
  }
  return best;
}

void Scheduler::preempt(size_t index, StepPlan& plan) {
  std::unique_ptr<Sequence> seq = std::move(running_[index]);
  running_.erase(running_.begin() + static_cast<std::ptrdiff_t>(index));
  // Copies into its blocks are moot once they are released.
  const auto table = kv_.block_table(seq->id);
  std::erase_if(plan.copies, [&](const kv::BlockCopy& c) {
    return std::find(table.begin(), table.end(), c.dst) != table.end();
  });
  kv_.release(seq->id);
  seq->n_computed = 0;
  ++seq->n_preempted;
  ++n_preemptions_;
  ++plan.n_preempted;
  queue(seq->priority).push_front(std::move(seq));
}

bool Scheduler::grow_running(StepPlan& plan) {
  bool none_preempted = true;
  for (size_t i = 0; i < running_.size();) {
    Sequence* s = running_[i].get();
    const int32_t have = kv_.n_tokens(s->id);
    const int32_t need = s->n_tokens() - have;
    if (need <= 0) {
      ++i;
      continue;
    }
    auto copies = kv_.reserve(s->id, std::span<const TokenId>(s->tokens.data() + have, static_cast<size_t>(need)));
    if (copies) {
      plan.copies.insert(plan.copies.end(), copies->begin(), copies->end());
      ++i;
      continue;
    }
    const size_t v = victim();
    preempt(v, plan);
    none_preempted = false;
    if (v < i) --i;  // the current sequence moved down one place; retry it
    // v == i: this sequence went back to the queue, running_[i] is the next one.
  }
  return none_preempted;
}

void Scheduler::admit(StepPlan& plan) {
  for (Priority p : {Priority::kInteractive, Priority::kBatch}) {
    auto& q = queue(p);
    while (!q.empty() && static_cast<int32_t>(running_.size()) < config_.max_running) {
      Sequence* s = q.front().get();
      const kv::PrefixMatch m = kv_.match_prefix(s->tokens);
      // One spare block per running sequence, so their next decode steps do not preempt at once.
      const int32_t spare = static_cast<int32_t>(running_.size());
      if (!m.fits || m.blocks_needed + spare > kv_.pool().n_available()) return;
      const auto n_cached = kv_.admit(s->id, s->tokens);
      if (!n_cached) return;
      s->n_computed = *n_cached;
      if (!s->admitted_once) {
        s->admitted_once = true;
        s->n_cached_prompt = std::min(*n_cached, s->n_prompt);
        s->t_admit = Clock::now();
      }
      running_.push_back(std::move(q.front()));
      q.pop_front();
      ++plan.n_admitted;
    }
    if (!q.empty()) return;  // a blocked interactive head holds batch requests back too
  }
}

void Scheduler::build_batch(StepPlan& plan) {
  int32_t budget = config_.max_batch_tokens;
  int32_t n_logits = 0;
  std::vector<int32_t> slots;
  auto add = [&](Sequence* s, int32_t n) {
    const int32_t begin = s->n_computed;
    const bool last = begin + n == s->n_tokens();
    StepEntry e{s, begin, n, last ? n_logits++ : -1};
    plan.batch.set_sequence(s->id, kv_.block_table(s->id), begin + n);
    slots.resize(static_cast<size_t>(n));
    kv_.slot_mapping(s->id, begin, n, slots.data());
    for (int32_t j = 0; j < n; ++j) {
      plan.batch.add_token(s->tokens[static_cast<size_t>(begin + j)], begin + j, s->id, slots[static_cast<size_t>(j)],
                           last && j == n - 1);
    }
    plan.entries.push_back(e);
    budget -= n;
  };
  // Decoding sequences first: one token each.
  for (auto& s : running_)
    if (s->n_pending() == 1) add(s.get(), 1);
  // Then prompt chunks, oldest admission first.
  for (auto& s : running_) {
    if (budget <= 0) break;
    if (s->n_pending() > 1) add(s.get(), std::min(s->n_pending(), budget));
  }
}

std::unique_ptr<Sequence> Scheduler::remove(Sequence* seq) {
  std::unique_ptr<Sequence> out;
  for (auto it = running_.begin(); it != running_.end(); ++it) {
    if (it->get() == seq) {
      out = std::move(*it);
      running_.erase(it);
      break;
    }
  }
  for (auto& q : waiting_) {
    if (out) break;
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (it->get() == seq) {
        out = std::move(*it);
        q.erase(it);
        break;
      }
    }
  }
  QUARREL_ASSERT(out != nullptr);
  if (kv_.contains(out->id)) kv_.release(out->id);
  return out;
}

std::vector<Sequence*> Scheduler::all() const {
  std::vector<Sequence*> out;
  for (const auto& s : running_) out.push_back(s.get());
  for (const auto& q : waiting_)
    for (const auto& s : q) out.push_back(s.get());
  return out;
}

}  // namespace quarrel::runtime
