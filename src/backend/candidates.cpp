// The host side of candidate selection: the reference select_candidates and the default
// Backend::forward_candidates built on it.
#include <algorithm>

#include "backend/backend.h"
#include "backend/rank_key.h"
#include "core/error.h"
#include "model/model.h"

namespace quarrel::backend {

void check_candidate_requests(std::span<const CandidateRequest> requests, size_t rows, int64_t n_vocab) {
  if (requests.size() != rows) {
    fail(ErrorCode::kInternal, "candidates: {} requests for {} logits rows", requests.size(), rows);
  }
  for (const CandidateRequest& r : requests) {
    if (r.k < 1 || r.k > n_vocab) fail(ErrorCode::kInvalidArgument, "candidates: k = {} for a vocabulary of {}", r.k, n_vocab);
    for (TokenId id : r.ids) {
      if (id < 0 || id >= n_vocab) {
        fail(ErrorCode::kInvalidArgument, "candidates: token {} outside the vocabulary of {}", id, n_vocab);
      }
    }
  }
}

void select_candidates(std::span<const float> logits, const CandidateRequest& request, RowCandidates& out) {
  const auto n = static_cast<int64_t>(logits.size());
  check_candidate_requests({&request, 1}, 1, n);
  struct Keyed {
    uint32_t key;
    TokenId id;
  };
  std::vector<Keyed> all(logits.size());
  for (int64_t i = 0; i < n; ++i) all[static_cast<size_t>(i)] = {logit_rank_key(logits[static_cast<size_t>(i)]), static_cast<TokenId>(i)};
  const auto before = [](const Keyed& a, const Keyed& b) { return a.key > b.key || (a.key == b.key && a.id < b.id); };
  const auto k = static_cast<ptrdiff_t>(request.k);
  std::nth_element(all.begin(), all.begin() + (k - 1), all.end(), before);
  std::sort(all.begin(), all.begin() + k, before);
  out.best.resize(static_cast<size_t>(k));
  for (ptrdiff_t i = 0; i < k; ++i) out.best[static_cast<size_t>(i)] = {all[static_cast<size_t>(i)].id, logits[static_cast<size_t>(all[static_cast<size_t>(i)].id)]};
  out.named.resize(request.ids.size());
  for (size_t i = 0; i < request.ids.size(); ++i) out.named[i] = logits[static_cast<size_t>(request.ids[i])];
}

void Backend::forward_candidates(const Batch& batch, std::span<const CandidateRequest> requests, Candidates& out) {
  check_candidate_requests(requests, batch.n_logits(), model().hparams().n_vocab);
  Logits logits;
  forward(batch, logits);
  out.batch_index = logits.batch_index;
  out.rows.resize(logits.rows());
  for (size_t r = 0; r < logits.rows(); ++r) select_candidates(logits.row(r), requests[r], out.rows[r]);
}

}  // namespace quarrel::backend
