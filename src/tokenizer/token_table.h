#pragma once
// Internal: the per-token data the encoders share (text, score, attributes, text -> id).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/string_index.h"

namespace quarrel::tokenizer {

// Token attributes (a bit set: a token can be control and unused, or carry strip flags).
enum TokenAttr : uint32_t {
  kAttrUndefined = 0,
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 6,  // strip whitespace left of the token when splitting it out of text
  kAttrRstrip = 1u << 7,  // ... and right of it
};

struct TokenTable {
  std::vector<std::string> text;
  std::vector<float> score;
  std::vector<uint32_t> attr;
  StringIndex index;  // text -> id

  int32_t size() const { return static_cast<int32_t>(text.size()); }
  int32_t find(std::string_view s) const { return index.find(s); }
  bool has(int32_t id, uint32_t mask) const { return (attr[static_cast<size_t>(id)] & mask) != 0; }
};

}  // namespace quarrel::tokenizer
