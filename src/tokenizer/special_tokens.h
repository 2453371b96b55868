#pragma once
// Internal: finding special and user-defined tokens in text before it is tokenized. Matching is
// leftmost-longest (at the first position where any token starts, the longest one), as Hugging
// Face's added-vocabulary splitter does.
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace quarrel::tokenizer {

class SpecialMatcher {
 public:
  SpecialMatcher() { root_.fill(-1); }
  void add(std::string_view text, int32_t id);
  bool empty() const { return n_ == 0; }

  // The leftmost-longest token at or after `pos`: sets at, len, id and returns true.
  bool find(std::string_view text, size_t pos, size_t& at, size_t& len, int32_t& id) const;

 private:
  struct Node {
    std::vector<std::pair<uint8_t, int32_t>> next;  // sorted by byte
    int32_t id = -1;
  };
  int32_t child(int32_t node, uint8_t b) const;

  std::array<int32_t, 256> root_;  // child of the root per first byte (-1: none)
  std::vector<Node> nodes_;
  size_t n_ = 0;
};

}  // namespace quarrel::tokenizer
