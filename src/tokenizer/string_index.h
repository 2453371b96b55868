#pragma once
// A read-only map from byte strings to token ids: open addressing over a power-of-two table,
// looked up with string_view (no allocation). Used on every piece the tokenizers produce, so
// it is kept small and fast.
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::tokenizer {

inline uint64_t hash_bytes(std::string_view s) {
  // 64-bit multiply-mix over 8-byte words; good enough spread for token strings.
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
  uint64_t h = 0xCBF29CE484222325ull ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 29;
    p += 8;
    n -= 8;
  }
  uint64_t w = 0;
  std::memcpy(&w, p, n);
  h = (h ^ w) * kMul;
  h ^= h >> 32;
  h *= 0xD6E8FEB86659FD93ull;
  h ^= h >> 32;
  return h;
}

class StringIndex {
 public:
  StringIndex() = default;

  // Adds a key; the first value given for a key wins (returns false for a duplicate).
  bool insert(std::string_view key, int32_t value);
  // The value for key, or -1.
  int32_t find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash_bytes(key);
    const uint32_t tag = static_cast<uint32_t>(h >> 32) | 1u;
    size_t i = static_cast<size_t>(h) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.tag == 0) return -1;
      if (s.tag == tag) {
        const Entry& e = entries_[s.entry];
        if (e.len == key.size() && std::memcmp(chars_.data() + e.offset, key.data(), key.size()) == 0)
          return e.value;
      }
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return entries_.size(); }

 private:
  struct Slot {
    uint32_t tag = 0;  // 0: empty
    uint32_t entry = 0;
  };
  struct Entry {
    uint64_t offset;
    uint32_t len;
    int32_t value;
  };
  void grow();

  std::vector<Slot> slots_;
  std::vector<Entry> entries_;
  std::string chars_;
  size_t mask_ = 0;
};

// A map from a pair of ids to a value (BPE merges): open addressing on a 64-bit key.
class PairIndex {
 public:
  struct Value {
    int32_t rank;
    int32_t result;
  };
  void insert(int32_t a, int32_t b, Value v);  // first insert for a pair wins
  const Value* find(int32_t a, int32_t b) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(a, b);
    size_t i = mix(key) & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.key == kEmpty) return nullptr;
      if (s.key == key) return &s.value;
      i = (i + 1) & mask_;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~0ull;
  struct Slot {
    uint64_t key = kEmpty;
    Value value{};
  };
  static uint64_t pack(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  static uint64_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 33;
    return k;
  }
  void grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace quarrel::tokenizer
