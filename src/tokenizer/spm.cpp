#include "tokenizer/spm.h"

#include <queue>

#include "fmt/format.h"

namespace quarrel::tokenizer {

SpmEncoder::SpmEncoder(const TokenTable& table, int32_t unk) : table_(table), unk_(unk) {
  for (int b = 0; b < 256; ++b) {
    int32_t id = table.find(fmt::format("<0x{:02X}>", b));
    if (id < 0) id = table.find(std::string(1, static_cast<char>(b)));
    byte_token_[static_cast<size_t>(b)] = id;
  }
}

void SpmEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  struct Sym {
    uint32_t start, n;
    int32_t prev, next;
  };
  struct Bigram {
    float score;
    int32_t left, right;
    uint32_t size;
    bool operator<(const Bigram& o) const {  // the top is the highest score, then the leftmost
      return score != o.score ? score < o.score : left > o.left;
    }
  };
  thread_local std::vector<Sym> syms;
  syms.clear();
  for (size_t i = 0; i < text.size();) {
    const auto b = static_cast<uint8_t>(text[i]);
    size_t len = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4;
    if (len > text.size() - i) len = text.size() - i;
    const auto idx = static_cast<int32_t>(syms.size());
    syms.push_back(Sym{static_cast<uint32_t>(i), static_cast<uint32_t>(len), idx - 1,
                       i + len < text.size() ? idx + 1 : -1});
    i += len;
  }
  if (syms.empty()) return;

  constexpr uint32_t kNotMergeable = kAttrControl | kAttrUnknown | kAttrByte;
  std::priority_queue<Bigram> queue;
  auto try_add = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const Sym& a = syms[static_cast<size_t>(l)];
    const Sym& b = syms[static_cast<size_t>(r)];
    const std::string_view s = text.substr(a.start, a.n + b.n);
    const int32_t id = table_.find(s);
    if (id < 0 || table_.has(id, kNotMergeable)) return;
    queue.push(Bigram{table_.score[static_cast<size_t>(id)], l, r, static_cast<uint32_t>(s.size())});
  };
  for (size_t i = 1; i < syms.size(); ++i) try_add(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!queue.empty()) {
    const Bigram g = queue.top();
    queue.pop();
    Sym& l = syms[static_cast<size_t>(g.left)];
    Sym& r = syms[static_cast<size_t>(g.right)];
    if (l.n == 0 || r.n == 0 || l.n + r.n != g.size) continue;  // stale
    l.n += r.n;
    r.n = 0;
    l.next = r.next;
    if (r.next >= 0) syms[static_cast<size_t>(r.next)].prev = g.left;
    try_add(l.prev, g.left);
    try_add(g.left, l.next);
  }

  for (int32_t i = 0; i >= 0; i = syms[static_cast<size_t>(i)].next) {
    const Sym& s = syms[static_cast<size_t>(i)];
    const std::string_view piece = text.substr(s.start, s.n);
    const int32_t id = table_.find(piece);
    if (id >= 0) {
      out.push_back(id);
      continue;
    }
    bool all_bytes = true;
    for (char c : piece) all_bytes = all_bytes && byte_token_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : piece) out.push_back(byte_token_[static_cast<uint8_t>(c)]);
    } else if (unk_ >= 0) {
      out.push_back(unk_);
    }
  }
}

}  // namespace quarrel::tokenizer
