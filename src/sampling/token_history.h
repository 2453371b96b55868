#pragma once
// The penalty window: the last N tokens a sequence accepted, with a count per token, kept up to
// date as tokens come and go (so applying penalties costs O(distinct tokens in the window)).
#include <cstdint>
#include <deque>
#include <unordered_map>

#include "sampling/sampling_params.h"

namespace quarrel::sampling {

class TokenHistory {
 public:
  // last_n > 0: a window of that many tokens; 0: keeps nothing; -1: every token.
  explicit TokenHistory(int32_t last_n) : last_n_(last_n) {}

  void push(TokenId token) {
    if (last_n_ == 0) return;
    window_.push_back(token);
    ++counts_[token];
    if (last_n_ > 0 && window_.size() > static_cast<size_t>(last_n_)) {
      const TokenId old = window_.front();
      window_.pop_front();
      auto it = counts_.find(old);
      if (--it->second == 0) counts_.erase(it);
    }
  }
  void clear() {
    window_.clear();
    counts_.clear();
  }
  size_t size() const { return window_.size(); }
  const std::unordered_map<TokenId, int32_t>& counts() const { return counts_; }

 private:
  int32_t last_n_;
  std::deque<TokenId> window_;
  std::unordered_map<TokenId, int32_t> counts_;
};

}  // namespace quarrel::sampling
