#pragma once
// The unit of work of every backend: a batch of tokens from one or more sequences, each at its
// own position, prompt tokens and decode tokens mixed. Decoding one sequence is a batch of one.
//
// Token i of the batch is tokens[i] at positions[i] of sequence seq_ids[i]; its K/V goes to the
// flat cache slot slots[i] (block * block_size + offset, from kv::BlockTable); logits come back
// for it when want_logits[i]. Every sequence named by a token has one BatchSequence entry with
// its block table (logical block j -> pool block) and its context length after this batch. A
// token attends to the cached positions [0, positions[i]] of its sequence (causal; with a
// sliding window only the last `window` of them), read through the block table, so the K/V of
// every earlier position must be in the cache already or written by this same batch.
#include <cstdint>
#include <span>
#include <vector>

namespace quarrel::backend {

using SeqId = int64_t;
using TokenId = int32_t;

struct BatchSequence {
  SeqId id = 0;
  std::vector<int32_t> block_table;  // [n_blocks]: logical block -> pool block
  int32_t n_ctx = 0;                 // tokens of this sequence in the cache once the batch is written
};

struct Batch {
  std::vector<TokenId> tokens;       // [n]
  std::vector<int32_t> positions;    // [n]
  std::vector<SeqId> seq_ids;        // [n]
  std::vector<int32_t> slots;        // [n] flat KV slot each token writes
  std::vector<uint8_t> want_logits;  // [n] 1: return this token's logits
  std::vector<BatchSequence> seqs;   // one per sequence in the batch

  size_t size() const { return tokens.size(); }
  bool empty() const { return tokens.empty(); }
  size_t n_logits() const;  // tokens with want_logits set
  void clear();

  void add_token(TokenId token, int32_t pos, SeqId seq, int32_t slot, bool logits);
  // Adds (or replaces) the block table of a sequence.
  void set_sequence(SeqId seq, std::span<const int32_t> block_table, int32_t n_ctx);
  // The entry of a sequence; nullptr when absent.
  const BatchSequence* find_sequence(SeqId seq) const;

  // Checks the batch against a cache of n_blocks blocks of block_size slots: parallel arrays of
  // one length, a sequence entry for every token, block ids in range, each token's slot equal to
  // its position's slot through the block table, positions below n_ctx, no slot written twice.
  // Throws Error(kInvalidArgument) naming the first problem.
  void validate(int32_t n_blocks, int32_t block_size) const;
};

}  // namespace quarrel::backend
