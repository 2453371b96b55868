// The Scheduler over a real KvCacheManager: admission order, running limit, batch layout
// (decode tokens first, chunked prefill within the token budget), preemption and release.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "kv/kv_cache_manager.h"
#include "runtime/scheduler.h"

namespace quarrel::runtime {
namespace {

std::unique_ptr<Sequence> make_seq(RequestId id, int32_t n_prompt, Priority p = Priority::kInteractive,
                                   TokenId first = 0) {
  auto s = std::make_unique<Sequence>();
  s->id = id;
  s->priority = p;
  s->tokens.resize(static_cast<size_t>(n_prompt));
  std::iota(s->tokens.begin(), s->tokens.end(), first);
  s->n_prompt = n_prompt;
  s->n_ctx = 1 << 20;
  return s;
}

// What the engine does after the forward pass: mark the fed tokens computed and, where the
// logits came back, append a "sampled" token.
void complete(kv::KvCacheManager& kv, const StepPlan& plan, TokenId sampled = 7) {
  for (const StepEntry& e : plan.entries) {
    e.seq->n_computed = e.begin + e.n;
    kv.commit(e.seq->id, e.seq->n_computed);
    if (e.logits_row >= 0) e.seq->tokens.push_back(sampled);
  }
}

std::vector<RequestId> running_ids(const Scheduler& s) {
  std::vector<RequestId> ids;
  for (const auto& q : s.running()) ids.push_back(q->id);
  return ids;
}

TEST(Scheduler, AdmitsInteractiveFirstThenFirstComeFirstServed) {
  kv::KvCacheManager kv(64, 4);
  Scheduler s(kv, {.max_running = 2, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 5, Priority::kBatch));
  s.enqueue(make_seq(2, 5, Priority::kInteractive));
  s.enqueue(make_seq(3, 5, Priority::kInteractive));
  StepPlan plan;
  s.schedule(plan);
  EXPECT_EQ(plan.n_admitted, 2);
  EXPECT_EQ(running_ids(s), (std::vector<RequestId>{2, 3}));
  EXPECT_EQ(s.n_waiting(), 1u);
  // Each new sequence's whole prompt is in the batch, its last token asks for logits.
  ASSERT_EQ(plan.entries.size(), 2u);
  EXPECT_EQ(plan.batch.size(), 10u);
  EXPECT_EQ(plan.batch.n_logits(), 2u);
  plan.batch.validate(64, 4);
  kv.check_invariants();
}

TEST(Scheduler, DecodeTokensComeFirstAndPrefillIsChunked) {
  kv::KvCacheManager kv(64, 4);
  Scheduler s(kv, {.max_running = 4, .max_batch_tokens = 8});
  s.enqueue(make_seq(1, 3));
  StepPlan plan;
  s.schedule(plan);
  complete(kv, plan);  // seq 1 now decodes
  s.enqueue(make_seq(2, 20, Priority::kInteractive, 100));
  s.schedule(plan);
  plan.batch.validate(64, 4);
  ASSERT_EQ(plan.entries.size(), 2u);
  EXPECT_EQ(plan.entries[0].seq->id, 1u);  // the decode token first
  EXPECT_EQ(plan.entries[0].n, 1);
  EXPECT_GE(plan.entries[0].logits_row, 0);
  EXPECT_EQ(plan.entries[1].seq->id, 2u);  // then 7 of the 20 prompt tokens (budget 8)
  EXPECT_EQ(plan.entries[1].n, 7);
  EXPECT_EQ(plan.entries[1].logits_row, -1);  // not at the end of the prompt yet
  EXPECT_EQ(plan.batch.size(), 8u);
  // Keep stepping: seq 2's prompt finishes over the next steps while seq 1 decodes each step.
  int steps = 1;
  while (s.running()[1]->n_computed < 20) {
    complete(kv, plan);
    s.schedule(plan);
    plan.batch.validate(64, 4);
    EXPECT_LE(plan.batch.size(), 8u);
    EXPECT_EQ(plan.entries[0].seq->id, 1u);
    ++steps;
    if (plan.entries.size() == 2 && plan.entries[1].begin + plan.entries[1].n == 20) {
      EXPECT_GE(plan.entries[1].logits_row, 0);
      complete(kv, plan);
      break;
    }
  }
  EXPECT_EQ(steps, 3);  // 7 + 7 + 6 prompt tokens
  EXPECT_EQ(s.running()[1]->n_tokens(), 21);
  kv.check_invariants();
}

TEST(Scheduler, RunningLimitHoldsTheRestInTheQueue) {
  kv::KvCacheManager kv(64, 4);
  Scheduler s(kv, {.max_running = 1, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 4));
  s.enqueue(make_seq(2, 4));
  StepPlan plan;
  s.schedule(plan);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{1});
  complete(kv, plan);
  s.schedule(plan);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{1});
  // Removing the running one frees its blocks and lets the next in.
  const int32_t used = kv.stats().blocks_used;
  EXPECT_GT(used, 0);
  s.remove(s.running()[0].get());
  EXPECT_EQ(kv.stats().blocks_used, 0);
  s.schedule(plan);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{2});
  kv.check_invariants();
}

TEST(Scheduler, QueueHeadIsNotSkippedWhenItDoesNotFit) {
  kv::KvCacheManager kv(8, 4);  // 32 slots
  Scheduler s(kv, {.max_running = 4, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 16));
  StepPlan plan;
  s.schedule(plan);
  complete(kv, plan);
  s.enqueue(make_seq(2, 20, Priority::kInteractive, 200));  // needs 5 blocks + 1 spare: does not fit
  s.enqueue(make_seq(3, 2, Priority::kInteractive, 300));   // would fit, but waits behind 2
  s.schedule(plan);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{1});
  EXPECT_EQ(s.n_waiting(), 2u);
  s.remove(s.running()[0].get());
  s.schedule(plan);
  EXPECT_EQ(running_ids(s), (std::vector<RequestId>{2, 3}));
}

TEST(Scheduler, PreemptsTheLastAdmittedWhenBlocksRunOutAndRecomputesItLater) {
  kv::KvCacheManager kv(4, 4);  // 16 slots
  Scheduler s(kv, {.max_running = 2, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 8));
  s.enqueue(make_seq(2, 4, Priority::kInteractive, 50));
  StepPlan plan;
  s.schedule(plan);
  ASSERT_EQ(running_ids(s), (std::vector<RequestId>{1, 2}));  // 2 + 1 blocks, one spare left
  complete(kv, plan);  // both sampled a token: 9 and 5 tokens, each needs a new block
  s.schedule(plan);    // seq 1 takes the last block; seq 2 (admitted last) is preempted
  EXPECT_EQ(plan.n_preempted, 1);
  EXPECT_EQ(s.n_preemptions(), 1);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{1});
  ASSERT_EQ(s.n_waiting(), 1u);
  ASSERT_EQ(plan.entries.size(), 1u);
  plan.batch.validate(4, 4);
  kv.check_invariants();
  // Seq 1 finishes; seq 2 comes back with its 5 tokens and recomputes what the cache lost.
  complete(kv, plan);
  s.remove(s.running()[0].get());
  s.schedule(plan);
  ASSERT_EQ(running_ids(s), std::vector<RequestId>{2});
  const Sequence& two = *s.running()[0];
  EXPECT_EQ(two.n_tokens(), 5);
  EXPECT_EQ(two.n_preempted, 1);
  EXPECT_EQ(two.n_computed, 4);  // its full first block came back from the prefix cache
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].begin, 4);
  EXPECT_EQ(plan.entries[0].n, 1);
  EXPECT_GE(plan.entries[0].logits_row, 0);
  kv.check_invariants();
}

TEST(Scheduler, BatchPriorityIsPreemptedBeforeInteractive) {
  kv::KvCacheManager kv(4, 4);
  Scheduler s(kv, {.max_running = 2, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 4, Priority::kBatch));
  StepPlan plan;
  s.schedule(plan);
  complete(kv, plan);
  s.enqueue(make_seq(2, 4, Priority::kInteractive, 50));
  s.schedule(plan);  // admits 2 after the batch sequence
  ASSERT_EQ(running_ids(s), (std::vector<RequestId>{1, 2}));
  // Decode until the pool runs dry: the batch sequence goes back although it came first.
  for (int i = 0; i < 10 && plan.n_preempted == 0; ++i) {
    complete(kv, plan);
    s.schedule(plan);
    plan.batch.validate(4, 4);
  }
  EXPECT_EQ(plan.n_preempted, 1);
  EXPECT_EQ(running_ids(s), std::vector<RequestId>{2});
  ASSERT_EQ(s.n_waiting(), 1u);
  EXPECT_EQ(s.all()[1]->id, 1u);
  kv.check_invariants();
}

TEST(Scheduler, RemoveWaitingAndRunning) {
  kv::KvCacheManager kv(16, 4);
  Scheduler s(kv, {.max_running = 1, .max_batch_tokens = 64});
  s.enqueue(make_seq(1, 4));
  s.enqueue(make_seq(2, 4));
  StepPlan plan;
  s.schedule(plan);
  Sequence* waiting = s.all()[1];
  EXPECT_EQ(waiting->id, 2u);
  auto removed = s.remove(waiting);
  EXPECT_EQ(removed->id, 2u);
  EXPECT_EQ(s.n_waiting(), 0u);
  s.remove(s.all()[0]);
  EXPECT_TRUE(s.idle());
  EXPECT_EQ(kv.stats().blocks_used, 0);
  s.schedule(plan);
  EXPECT_TRUE(plan.empty());
}

}  // namespace
}  // namespace quarrel::runtime
