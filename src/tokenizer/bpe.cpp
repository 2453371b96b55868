#include "tokenizer/bpe.h"

#include <algorithm>
#include <climits>
#include <queue>

#include "core/log.h"
#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {

namespace {
constexpr size_t kSmallWord = 48;  // words up to this many bytes merge by scanning; longer ones use a heap
}

int32_t BpeEncoder::symbol_for(const TokenTable& table, std::string_view text) {
  const int32_t id = table.find(text);
  if (id >= 0) return id;
  const int32_t p = pseudo_index_.find(text);
  if (p >= 0) return n_tokens_ + p;
  const auto k = static_cast<int32_t>(pseudo_raw_.size());
  pseudo_index_.insert(text, k);
  std::string raw;
  byte_level_decode(text, raw);
  pseudo_raw_.push_back(std::move(raw));
  return n_tokens_ + k;
}

BpeEncoder::BpeEncoder(const TokenTable& table, const std::vector<std::string>& merges, const PreTokenizerSpec& spec)
    : n_tokens_(table.size()), pre_(spec), ignore_merges_(spec.ignore_merges), nfc_(spec.nfc) {
  const auto& b2u = byte_to_unicode();
  for (int b = 0; b < 256; ++b) byte_sym_[static_cast<size_t>(b)] = symbol_for(table, b2u[static_cast<size_t>(b)]);

  std::string raw;
  for (int32_t id = 0; id < n_tokens_; ++id) {
    if (!table.has(id, kAttrNormal)) continue;
    raw.clear();
    if (byte_level_decode(table.text[static_cast<size_t>(id)], raw)) raw_index_.insert(raw, id);
  }

  size_t skipped = 0;
  std::string joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& m = merges[rank];
    const size_t sp = m.find(' ', 1);
    if (sp == std::string::npos || sp + 1 >= m.size()) {
      ++skipped;
      continue;
    }
    const std::string_view left(m.data(), sp), right(m.data() + sp + 1, m.size() - sp - 1);
    const int32_t l = symbol_for(table, left);
    const int32_t r = symbol_for(table, right);
    joined.assign(left);
    joined.append(right);
    const int32_t res = symbol_for(table, joined);
    merges_.insert(l, r, PairIndex::Value{static_cast<int32_t>(rank), res});
  }
  if (skipped > 0) log::warn("tokenizer: skipped malformed BPE merges", {{"count", skipped}});
}

void BpeEncoder::emit(int32_t sym, std::vector<int32_t>& out) const {
  if (sym < n_tokens_) {
    out.push_back(sym);
    return;
  }
  // A merge result that is not a token: fall back to the bytes' tokens.
  for (char c : pseudo_raw_[static_cast<size_t>(sym - n_tokens_)]) {
    const int32_t b = byte_sym_[static_cast<uint8_t>(c)];
    if (b < n_tokens_) out.push_back(b);
  }
}

void BpeEncoder::merge_small(std::vector<int32_t>& syms) const {
  size_t m = syms.size();
  int32_t rank[kSmallWord];
  int32_t result[kSmallWord];
  auto look = [&](size_t i) {
    const PairIndex::Value* v = merges_.find(syms[i], syms[i + 1]);
    rank[i] = v ? v->rank : INT32_MAX;
    result[i] = v ? v->result : -1;
  };
  for (size_t i = 0; i + 1 < m; ++i) look(i);
  while (m > 1) {
    size_t best = 0;
    for (size_t i = 1; i + 1 < m; ++i)
      if (rank[i] < rank[best]) best = i;
    if (rank[best] == INT32_MAX) break;
    syms[best] = result[best];
    // Remove symbol best+1 and the pair entry that started at it.
    for (size_t i = best + 1; i + 1 < m; ++i) syms[i] = syms[i + 1];
    for (size_t i = best + 1; i + 2 < m; ++i) {
      rank[i] = rank[i + 1];
      result[i] = result[i + 1];
    }
    --m;
    if (best > 0) look(best - 1);
    if (best + 1 < m) look(best);
  }
  syms.resize(m);
}

void BpeEncoder::merge_large(std::vector<int32_t>& syms) const {
  struct Node {
    int32_t id;
    int32_t prev, next;
  };
  struct Cand {
    int32_t rank, left, right, left_id, right_id, result;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : left > o.left; }
  };
  const auto n = static_cast<int32_t>(syms.size());
  std::vector<Node> nodes(syms.size());
  for (int32_t i = 0; i < n; ++i) nodes[static_cast<size_t>(i)] = Node{syms[static_cast<size_t>(i)], i - 1, i + 1 < n ? i + 1 : -1};
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap;
  auto push = [&](int32_t l, int32_t r) {
    if (l < 0 || r < 0) return;
    const int32_t a = nodes[static_cast<size_t>(l)].id, b = nodes[static_cast<size_t>(r)].id;
    if (const PairIndex::Value* v = merges_.find(a, b)) heap.push(Cand{v->rank, l, r, a, b, v->result});
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i, i + 1);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Node& l = nodes[static_cast<size_t>(c.left)];
    Node& r = nodes[static_cast<size_t>(c.right)];
    if (l.id < 0 || r.id < 0 || l.next != c.right || l.id != c.left_id || r.id != c.right_id) continue;
    l.id = c.result;
    l.next = r.next;
    if (r.next >= 0) nodes[static_cast<size_t>(r.next)].prev = c.left;
    r.id = -1;
    push(l.prev, c.left);
    push(c.left, l.next);
  }
  syms.clear();
  for (int32_t i = 0; i >= 0; i = nodes[static_cast<size_t>(i)].next) syms.push_back(nodes[static_cast<size_t>(i)].id);
}

void BpeEncoder::encode_word(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1) {
    emit(byte_sym_[static_cast<uint8_t>(word[0])], out);
    return;
  }
  if (ignore_merges_) {
    const int32_t id = raw_index_.find(word);
    if (id >= 0) {
      out.push_back(id);
      return;
    }
  }
  thread_local std::vector<int32_t> syms;
  syms.clear();
  for (char c : word) syms.push_back(byte_sym_[static_cast<uint8_t>(c)]);
  if (syms.size() <= kSmallWord)
    merge_small(syms);
  else
    merge_large(syms);
  for (int32_t s : syms) emit(s, out);
}

void BpeEncoder::encode(std::string_view text, std::vector<int32_t>& out) const {
  std::string normalized;
  if (nfc_) {
    normalized = normalize_nfc(text);
    text = normalized;
  }
  thread_local std::vector<std::pair<size_t, size_t>> spans;
  spans.clear();
  pre_.split(text, spans);
  for (const auto& [b, e] : spans) encode_word(text.substr(b, e - b), out);
}

}  // namespace quarrel::tokenizer
