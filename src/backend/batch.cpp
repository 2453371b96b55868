#include "backend/batch.h"

#include <algorithm>
#include <unordered_set>

#include "core/error.h"

namespace quarrel::backend {

size_t Batch::n_logits() const {
  return static_cast<size_t>(std::count_if(want_logits.begin(), want_logits.end(), [](uint8_t w) { return w != 0; }));
}

void Batch::clear() {
  tokens.clear();
  positions.clear();
  seq_ids.clear();
  slots.clear();
  want_logits.clear();
  seqs.clear();
}

void Batch::add_token(TokenId token, int32_t pos, SeqId seq, int32_t slot, bool logits) {
  tokens.push_back(token);
  positions.push_back(pos);
  seq_ids.push_back(seq);
  slots.push_back(slot);
  want_logits.push_back(logits ? 1 : 0);
}

void Batch::set_sequence(SeqId seq, std::span<const int32_t> block_table, int32_t n_ctx) {
  BatchSequence entry{seq, std::vector<int32_t>(block_table.begin(), block_table.end()), n_ctx};
  for (BatchSequence& s : seqs) {
    if (s.id == seq) {
      s = std::move(entry);
      return;
    }
  }
  seqs.push_back(std::move(entry));
}

const BatchSequence* Batch::find_sequence(SeqId seq) const {
  for (const BatchSequence& s : seqs) {
    if (s.id == seq) return &s;
  }
  return nullptr;
}

void Batch::validate(int32_t n_blocks, int32_t block_size) const {
  const size_t n = tokens.size();
  if (positions.size() != n || seq_ids.size() != n || slots.size() != n || want_logits.size() != n) {
    fail(ErrorCode::kInvalidArgument, "batch: arrays of different lengths (tokens {}, positions {}, seq_ids {}, slots {}, "
         "want_logits {})", n, positions.size(), seq_ids.size(), slots.size(), want_logits.size());
  }
  for (const BatchSequence& s : seqs) {
    if (static_cast<int64_t>(s.n_ctx) > static_cast<int64_t>(s.block_table.size()) * block_size) {
      fail(ErrorCode::kInvalidArgument, "batch: sequence {} has n_ctx {} but {} blocks of {} slots", s.id, s.n_ctx,
           s.block_table.size(), block_size);
    }
    for (int32_t b : s.block_table) {
      if (b < 0 || b >= n_blocks) {
        fail(ErrorCode::kInvalidArgument, "batch: sequence {} has block {} outside the pool of {} blocks", s.id, b, n_blocks);
      }
    }
  }
  std::unordered_set<int32_t> written;
  for (size_t i = 0; i < n; ++i) {
    const BatchSequence* s = find_sequence(seq_ids[i]);
    if (s == nullptr) fail(ErrorCode::kInvalidArgument, "batch: token {} names sequence {}, which has no block table", i, seq_ids[i]);
    const int32_t pos = positions[i];
    if (pos < 0 || pos >= s->n_ctx) {
      fail(ErrorCode::kInvalidArgument, "batch: token {} has position {} outside sequence {}'s context of {}", i, pos,
           s->id, s->n_ctx);
    }
    const int32_t expected = s->block_table[static_cast<size_t>(pos / block_size)] * block_size + pos % block_size;
    if (slots[i] != expected) {
      fail(ErrorCode::kInvalidArgument, "batch: token {} (sequence {}, position {}) writes slot {} but its block table "
           "puts that position in slot {}", i, s->id, pos, slots[i], expected);
    }
    if (!written.insert(slots[i]).second) fail(ErrorCode::kInvalidArgument, "batch: slot {} is written twice", slots[i]);
  }
}

}  // namespace quarrel::backend
