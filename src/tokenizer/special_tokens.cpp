#include "tokenizer/special_tokens.h"

#include <algorithm>

namespace quarrel::tokenizer {

int32_t SpecialMatcher::child(int32_t node, uint8_t b) const {
  const auto& nx = nodes_[static_cast<size_t>(node)].next;
  auto it = std::lower_bound(nx.begin(), nx.end(), b, [](const auto& p, uint8_t v) { return p.first < v; });
  return it != nx.end() && it->first == b ? it->second : -1;
}

void SpecialMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  int32_t node = root_[static_cast<uint8_t>(text[0])];
  if (node < 0) {
    node = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();
    root_[static_cast<uint8_t>(text[0])] = node;
  }
  for (size_t i = 1; i < text.size(); ++i) {
    const auto b = static_cast<uint8_t>(text[i]);
    int32_t c = child(node, b);
    if (c < 0) {
      c = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& nx = nodes_[static_cast<size_t>(node)].next;
      nx.insert(std::lower_bound(nx.begin(), nx.end(), b, [](const auto& p, uint8_t v) { return p.first < v; }),
                {b, c});
    }
    node = c;
  }
  if (nodes_[static_cast<size_t>(node)].id < 0) {  // the first id given for a text wins
    nodes_[static_cast<size_t>(node)].id = id;
    ++n_;
  }
}

bool SpecialMatcher::find(std::string_view text, size_t pos, size_t& at, size_t& len, int32_t& id) const {
  if (n_ == 0) return false;
  for (size_t i = pos; i < text.size(); ++i) {
    int32_t node = root_[static_cast<uint8_t>(text[i])];
    if (node < 0) continue;
    int32_t best = -1;
    size_t best_len = 0;
    for (size_t j = i + 1;; ++j) {
      const int32_t nid = nodes_[static_cast<size_t>(node)].id;
      if (nid >= 0) {
        best = nid;
        best_len = j - i;
      }
      if (j >= text.size()) break;
      node = child(node, static_cast<uint8_t>(text[j]));
      if (node < 0) break;
    }
    if (best >= 0) {
      at = i;
      len = best_len;
      id = best;
      return true;
    }
  }
  return false;
}

}  // namespace quarrel::tokenizer
