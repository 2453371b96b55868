#include "tokenizer/string_index.h"

namespace quarrel::tokenizer {

void StringIndex::grow() {
  const size_t cap = slots_.empty() ? 64 : slots_.size() * 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (uint32_t e = 0; e < entries_.size(); ++e) {
    const std::string_view key(chars_.data() + entries_[e].offset, entries_[e].len);
    const uint64_t h = hash_bytes(key);
    size_t i = static_cast<size_t>(h) & mask_;
    while (slots_[i].tag != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{static_cast<uint32_t>(h >> 32) | 1u, e};
  }
}

bool StringIndex::insert(std::string_view key, int32_t value) {
  if (find(key) >= 0) return false;
  if ((entries_.size() + 1) * 2 > slots_.size()) grow();
  const uint32_t e = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{chars_.size(), static_cast<uint32_t>(key.size()), value});
  chars_.append(key);
  const uint64_t h = hash_bytes(key);
  size_t i = static_cast<size_t>(h) & mask_;
  while (slots_[i].tag != 0) i = (i + 1) & mask_;
  slots_[i] = Slot{static_cast<uint32_t>(h >> 32) | 1u, e};
  return true;
}

void PairIndex::grow() {
  std::vector<Slot> old = std::move(slots_);
  const size_t cap = old.empty() ? 64 : old.size() * 2;
  slots_.assign(cap, Slot{});
  mask_ = cap - 1;
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    size_t i = mix(s.key) & mask_;
    while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void PairIndex::insert(int32_t a, int32_t b, Value v) {
  if (find(a, b)) return;
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(a, b);
  size_t i = mix(key) & mask_;
  while (slots_[i].key != kEmpty) i = (i + 1) & mask_;
  slots_[i] = Slot{key, v};
  ++count_;
}

}  // namespace quarrel::tokenizer
