#pragma once
// The interface every backend implements (CPU now, CUDA later): take a model's weights, hold a
// paged KV cache of fixed-size blocks, run a Batch, copy blocks for copy-on-write.
//
//   auto model = model::Model::load(path);
//   auto be = std::make_unique<CpuBackend>();
//   be->load(model, {.n_blocks = 256, .block_size = 16});
//   Logits logits; be->forward(batch, logits);   // rows for the batch's want_logits tokens
//
// The KV bookkeeping (which blocks a sequence owns) is kv::KvCacheManager's; the backend only
// stores [n_blocks * block_size] slots per layer and reads/writes them as the batch says.
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "backend/batch.h"
#include "core/ggml_type.h"
#include "kv/block_table.h"

namespace quarrel::model {
class Model;
}

namespace quarrel::backend {

struct KvCacheConfig {
  int32_t n_blocks = 0;             // blocks in the pool
  int32_t block_size = 16;          // token slots per block
  GgmlType type = GgmlType::F16;    // element type of the cached K and V: F16, F32, Q8_0 (cpu), F8_E4M3 (cuda)

  int64_t n_slots() const { return static_cast<int64_t>(n_blocks) * block_size; }
  // Blocks for n_tokens tokens of context (rounded up).
  static int32_t blocks_for(int64_t n_tokens, int32_t block_size) {
    return static_cast<int32_t>((n_tokens + block_size - 1) / block_size);
  }
};

struct Capabilities {
  std::vector<GgmlType> kv_types;  // cache element types it can hold
  int32_t max_batch_tokens = 0;    // 0: no limit beyond memory
  bool device_memory = false;      // weights / KV live off the host (GPU)
};

// What a sampler needs from one logits row when it does not need the whole row: the k best
// tokens and the logits of a few named ones (those it biases or penalizes).
struct CandidateRequest {
  int32_t k = 1;               // best tokens wanted, 1 <= k <= n_vocab
  std::vector<TokenId> ids;    // tokens whose logits are wanted as well (in [0, n_vocab))
};

struct TokenLogit {
  TokenId id = -1;
  float logit = 0.0f;
  bool operator==(const TokenLogit&) const = default;
};

// The answer for one row. `best` is in the sampler's rank order: a higher logit first, equal
// logits by lower id, NaN ranked as -infinity and +infinity as the largest float (the logits
// themselves are as computed). named[i] is the logit of request.ids[i].
struct RowCandidates {
  std::vector<TokenLogit> best;
  std::vector<float> named;
};

struct Candidates {
  std::vector<int32_t> batch_index;  // row r belongs to batch token batch_index[r]
  std::vector<RowCandidates> rows;
};

// Error(kInvalidArgument) unless there is one request per logits row (rows) and each asks for
// 1 <= k <= n_vocab tokens and names tokens in [0, n_vocab).
void check_candidate_requests(std::span<const CandidateRequest> requests, size_t rows, int64_t n_vocab);

// The host reference of one row's answer (Backend::forward_candidates' default, and the
// reference the device selections are tested against).
void select_candidates(std::span<const float> logits, const CandidateRequest& request, RowCandidates& out);

// Logits of the tokens of a batch that asked for them, in batch order.
struct Logits {
  int64_t n_vocab = 0;
  std::vector<int32_t> batch_index;  // row r belongs to batch token batch_index[r]
  std::vector<float> values;         // [n_vocab, rows]

  size_t rows() const { return batch_index.size(); }
  std::span<const float> row(size_t r) const {
    return {values.data() + r * static_cast<size_t>(n_vocab), static_cast<size_t>(n_vocab)};
  }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  virtual Capabilities capabilities() const = 0;

  // Takes the model's weights (the CPU uses them in place from the mmap; a GPU uploads them)
  // and allocates a zeroed KV pool. Error(kInvalidArgument) for a cache type the backend
  // cannot hold or a bad size; Error(kOutOfMemory) when the pool does not fit.
  virtual void load(std::shared_ptr<const model::Model> model, const KvCacheConfig& kv) = 0;
  virtual const model::Model& model() const = 0;
  virtual const KvCacheConfig& kv_config() const = 0;
  // Bytes the KV pool takes (all layers, K and V).
  virtual uint64_t kv_bytes() const = 0;

  // Runs the batch: writes each token's K/V to its slot, attends through the block tables,
  // and fills `out` with the logits of the tokens that want them. The batch is validated
  // (Batch::validate) and token ids are checked against the vocabulary.
  virtual void forward(const Batch& batch, Logits& out) = 0;

  // forward() for a caller that only needs greedy tokens: ids[r] is the argmax (first index on
  // ties, NaNs skipped) of the logits of the r-th token that wants logits, in batch order. A
  // device backend overrides it so that only the ids leave the device.
  virtual void forward_greedy(const Batch& batch, std::vector<TokenId>& ids) {
    Logits logits;
    forward(batch, logits);
    ids.assign(logits.rows(), -1);
    for (size_t r = 0; r < logits.rows(); ++r) {
      const auto row = logits.row(r);
      for (size_t i = 0; i < row.size(); ++i) {
        if (row[i] != row[i]) continue;  // NaN
        if (ids[r] < 0 || row[i] > row[static_cast<size_t>(ids[r])]) ids[r] = static_cast<TokenId>(i);
      }
    }
  }

  // forward() for a caller that needs only candidates: requests[r] is for the r-th token that
  // wants logits. The default computes the logits and selects on the host (select_candidates);
  // a device backend selects on the device so that only the candidates leave it.
  virtual void forward_candidates(const Batch& batch, std::span<const CandidateRequest> requests, Candidates& out);

  // Copies every slot of block src to block dst, in every layer (copy-on-write).
  virtual void copy_blocks(std::span<const kv::BlockCopy> copies) = 0;
};

// Error(kInvalidArgument) unless the backend's capabilities().kv_types hold type, one line naming
// the types it does hold: "--kv-type f8_e4m3: the cpu backend keeps the KV cache in f16, f32 or q8_0".
void require_kv_type(const Backend& be, GgmlType type);

}  // namespace quarrel::backend
