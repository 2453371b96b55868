#include "forward_compare.h"

#include <algorithm>
#include <cmath>
#include <span>
#include <vector>

#include "backend/cpu/matmul.h"
#include "backend/cpu_backend.h"
#include "backend/generate.h"
#include "common/reference_forward.h"
#include "model/model.h"

namespace quarrel::test {
namespace {


std::vector<int32_t> prompt_tokens(int64_t n_vocab) {
  std::vector<int32_t> p;
  for (int i = 0; i < kPromptLen; ++i) p.push_back(static_cast<int32_t>((i * 37 + 11) % n_vocab));
  return p;
}

double relative_error(std::span<const float> fast, const std::vector<double>& ref) {
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(fast[i]) - ref[i]));
    max_ref = std::max(max_ref, std::abs(ref[i]));
  }
  return max_diff / max_ref;
}

int32_t slot_of(const std::vector<int32_t>& table, int pos) { return table[static_cast<size_t>(pos / 16)] * 16 + pos % 16; }

}  // namespace

Outcome compare(const std::string& path, GgmlType kv_type, bool check_greedy, int n_threads) {
  // The reference: logits after every prompt token, then greedy for kSteps steps.
  const test::ReferenceForward ref(path);
  const std::vector<int32_t> prompt = prompt_tokens(ref.n_vocab());
  std::vector<std::vector<double>> ref_logits;  // [kPromptLen + kSteps - 1]
  std::vector<int32_t> ref_tokens;              // [kSteps]
  auto seq = ref.new_sequence();
  for (int32_t t : prompt) ref_logits.push_back(ref.step(seq, t));
  for (int i = 0; i < kSteps; ++i) {
    const auto& last = ref_logits.back();
    ref_tokens.push_back(static_cast<int32_t>(std::max_element(last.begin(), last.end()) - last.begin()));
    if (i + 1 < kSteps) ref_logits.push_back(ref.step(seq, ref_tokens.back()));
  }

  // Two backends in lockstep: `alone` decodes sequence 0 by itself; `mixed` decodes it inside
  // a batch that also carries the next kGemmMinColumns prompt tokens of a filler sequence 1.
  const auto model = model::Model::load(path);
  constexpr int kFillerBlocks = kSteps * cpu::kGemmMinColumns / 16 + 1;
  const backend::KvCacheConfig kv{.n_blocks = 8 + kFillerBlocks, .block_size = 16, .type = kv_type};
  backend::CpuBackend alone({.n_threads = n_threads}), mixed({.n_threads = n_threads});
  alone.load(model, kv);
  mixed.load(model, kv);
  std::vector<int32_t> table(8), filler_table(kFillerBlocks);
  for (int i = 0; i < 8; ++i) table[static_cast<size_t>(i)] = kv.n_blocks - 1 - i;  // out of order on purpose
  for (int i = 0; i < kFillerBlocks; ++i) filler_table[static_cast<size_t>(i)] = i;
  backend::Batch batch;
  backend::Logits logits;
  Outcome o;

  // The prompt as one batch, logits for every token (prompt processing: the GEMM path).
  batch.set_sequence(0, table, kPromptLen);
  for (int p = 0; p < kPromptLen; ++p) batch.add_token(prompt[static_cast<size_t>(p)], p, 0, slot_of(table, p), true);
  alone.forward(batch, logits);
  mixed.forward(batch, logits);
  for (int p = 0; p < kPromptLen; ++p) {
    o.prompt_error = std::max(o.prompt_error, relative_error(logits.row(static_cast<size_t>(p)), ref_logits[static_cast<size_t>(p)]));
  }
  // Then the reference's tokens one at a time.
  for (int step = 1; step < kSteps; ++step) {
    const int pos = kPromptLen + step - 1;
    const int32_t token = ref_tokens[static_cast<size_t>(step - 1)];
    const auto& expected = ref_logits[static_cast<size_t>(pos)];
    batch.clear();
    batch.set_sequence(0, table, pos + 1);
    batch.add_token(token, pos, 0, slot_of(table, pos), true);
    alone.forward(batch, logits);
    o.decode_error = std::max(o.decode_error, relative_error(logits.row(0), expected));

    // The decode token in the middle of the filler's chunk; every token wants logits.
    batch.clear();
    const int f0 = (step - 1) * static_cast<int>(cpu::kGemmMinColumns);
    batch.set_sequence(1, filler_table, f0 + static_cast<int>(cpu::kGemmMinColumns));
    batch.set_sequence(0, table, pos + 1);
    size_t decode_row = 0;
    for (int j = 0; j < cpu::kGemmMinColumns; ++j) {
      if (j == cpu::kGemmMinColumns / 2) {
        decode_row = batch.size();
        batch.add_token(token, pos, 0, slot_of(table, pos), true);
      }
      batch.add_token((f0 + j) % 97, f0 + j, 1, slot_of(filler_table, f0 + j), true);
    }
    mixed.forward(batch, logits);
    o.mixed_decode_error = std::max(o.mixed_decode_error, relative_error(logits.row(decode_row), expected));
  }

  if (check_greedy) {
    backend::CpuBackend be({.n_threads = n_threads});
    be.load(model, kv);
    const auto g = backend::generate_greedy(be, prompt, kSteps);
    for (int i = 0; i < kSteps; ++i) {
      if (g.tokens[static_cast<size_t>(i)] != ref_tokens[static_cast<size_t>(i)]) {
        o.greedy_mismatch = i;
        break;
      }
    }
  }
  return o;
}


}  // namespace quarrel::test
