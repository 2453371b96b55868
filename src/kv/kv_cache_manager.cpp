#include "kv/kv_cache_manager.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"

namespace quarrel::kv {
namespace {

constexpr uint64_t kRootHash = 0x51ab'c0de'ca11'ab1eULL;  // the parent of a sequence's first block

uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e37'79b9'7f4a'7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58'476d'1ce4'e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d0'49bb'1331'11ebULL;
  return x ^ (x >> 31);
}

}  // namespace

KvCacheManager::KvCacheManager(int32_t n_blocks, int32_t block_size, bool prefix_caching)
    : pool_(n_blocks, block_size), prefix_caching_(prefix_caching) {
  cached_meta_.resize(static_cast<size_t>(n_blocks));
  cached_tokens_.resize(static_cast<size_t>(n_blocks) * static_cast<size_t>(block_size));
  pool_.set_evict_listener([this](BlockId id) { on_evict(id); });
}

KvCacheManager::Sequence& KvCacheManager::get(SeqId seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) fail(ErrorCode::kInternal, "KV cache: unknown sequence {}", seq);
  return it->second;
}

const KvCacheManager::Sequence& KvCacheManager::get(SeqId seq) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) fail(ErrorCode::kInternal, "KV cache: unknown sequence {}", seq);
  return it->second;
}

uint64_t KvCacheManager::block_hash(uint64_t parent, const TokenId* tokens) const {
  uint64_t h = mix64(parent);
  for (int32_t i = 0; i < block_size(); ++i) h = mix64(h ^ static_cast<uint32_t>(tokens[i]));
  return h;
}

BlockId KvCacheManager::lookup(uint64_t parent, const TokenId* tokens, uint64_t hash) const {
  auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return kNoBlock;
  const BlockId id = it->second;
  const CachedBlock& m = cached_meta_[id];
  if (m.parent_hash != parent) return kNoBlock;
  const TokenId* stored = &cached_tokens_[static_cast<size_t>(id) * block_size()];
  if (std::memcmp(stored, tokens, sizeof(TokenId) * block_size()) != 0) return kNoBlock;
  return id;
}

void KvCacheManager::walk_prefix(std::span<const TokenId> prompt, std::vector<BlockId>* blocks,
                                 std::vector<uint64_t>* hashes, int32_t* n_idle) const {
  *n_idle = 0;
  if (!prefix_caching_ || prompt.empty()) return;
  const int32_t bs = block_size();
  const size_t n_full = (prompt.size() - 1) / static_cast<size_t>(bs);
  uint64_t parent = kRootHash;
  for (size_t i = 0; i < n_full; ++i) {
    const TokenId* t = prompt.data() + i * bs;
    const uint64_t h = block_hash(parent, t);
    const BlockId id = lookup(parent, t, h);
    if (id == kNoBlock) break;
    if (pool_.is_idle(id)) ++*n_idle;
    blocks->push_back(id);
    hashes->push_back(h);
    parent = h;
  }
}

PrefixMatch KvCacheManager::match_prefix(std::span<const TokenId> prompt) const {
  std::vector<BlockId> blocks;
  std::vector<uint64_t> hashes;
  int32_t n_idle = 0;
  walk_prefix(prompt, &blocks, &hashes, &n_idle);
  const int64_t bs = block_size();
  const int64_t total_blocks = (static_cast<int64_t>(prompt.size()) + bs - 1) / bs;
  const int64_t fresh = total_blocks - static_cast<int64_t>(blocks.size());
  PrefixMatch m;
  m.cached_tokens = static_cast<int32_t>(blocks.size() * bs);
  m.blocks_needed = static_cast<int32_t>(std::min<int64_t>(fresh + n_idle, INT32_MAX));
  // Reviving an idle block takes it off the evictable list, so it counts against availability.
  m.fits = fresh + n_idle <= pool_.n_available();
  return m;
}

std::optional<int32_t> KvCacheManager::admit(SeqId seq, std::span<const TokenId> prompt) {
  if (contains(seq)) fail(ErrorCode::kInternal, "KV cache: sequence {} already exists", seq);
  if (prompt.size() > static_cast<size_t>(INT32_MAX) - static_cast<size_t>(block_size()))
    fail(ErrorCode::kInvalidArgument, "KV cache: prompt of {} tokens is too long", prompt.size());
  std::vector<BlockId> blocks;
  std::vector<uint64_t> hashes;
  int32_t n_idle = 0;
  walk_prefix(prompt, &blocks, &hashes, &n_idle);
  const int32_t bs = block_size();
  const int64_t total_blocks = (static_cast<int64_t>(prompt.size()) + bs - 1) / bs;
  const int64_t fresh = total_blocks - static_cast<int64_t>(blocks.size());
  if (fresh + n_idle > pool_.n_available()) return std::nullopt;

  Sequence s(bs);
  for (BlockId id : blocks) {
    pool_.ref(id);  // revives idle blocks before the allocations below could evict them
    s.table.push_full_block(id);
  }
  const int32_t n_cached = s.table.n_tokens();
  auto copies = s.table.append(pool_, static_cast<int32_t>(prompt.size()) - n_cached);
  QUARREL_ASSERT(copies.has_value() && copies->empty());
  s.tokens.assign(prompt.begin(), prompt.end());
  s.block_hashes = std::move(hashes);
  s.n_computed = n_cached;
  seqs_.emplace(seq, std::move(s));
  prefix_query_tokens_ += static_cast<int64_t>(prompt.size());
  prefix_hit_tokens_ += n_cached;
  return n_cached;
}

int32_t KvCacheManager::blocks_needed(SeqId seq, int32_t n_new_tokens) const {
  QUARREL_ASSERT(n_new_tokens >= 0);
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) {
    const int64_t bs = block_size();
    return static_cast<int32_t>((static_cast<int64_t>(n_new_tokens) + bs - 1) / bs);
  }
  return it->second.table.blocks_needed(pool_, n_new_tokens);
}

bool KvCacheManager::can_allocate(SeqId seq, int32_t n_new_tokens) const {
  return blocks_needed(seq, n_new_tokens) <= pool_.n_available();
}

std::optional<std::vector<BlockCopy>> KvCacheManager::reserve(SeqId seq, std::span<const TokenId> tokens) {
  Sequence& s = get(seq);
  if (tokens.size() > static_cast<size_t>(INT32_MAX - block_size() - s.table.n_tokens()))
    fail(ErrorCode::kInvalidArgument, "KV cache: sequence {} would exceed the token limit", seq);
  auto copies = s.table.append(pool_, static_cast<int32_t>(tokens.size()));
  if (!copies) return std::nullopt;
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
  return copies;
}

void KvCacheManager::commit(SeqId seq) { commit(seq, get(seq).table.n_tokens()); }

void KvCacheManager::commit(SeqId seq, int32_t n_computed) {
  Sequence& s = get(seq);
  QUARREL_ASSERT(n_computed >= s.n_computed && n_computed <= s.table.n_tokens());
  s.n_computed = n_computed;
  const int32_t bs = block_size();
  const auto blocks = s.table.blocks();
  while (static_cast<int64_t>(s.block_hashes.size() + 1) * bs <= n_computed) {
    const size_t i = s.block_hashes.size();
    const uint64_t parent = i == 0 ? kRootHash : s.block_hashes[i - 1];
    const TokenId* t = s.tokens.data() + i * bs;
    const uint64_t h = block_hash(parent, t);
    s.block_hashes.push_back(h);
    if (!prefix_caching_) continue;
    const BlockId id = blocks[i];
    if (pool_.is_cached(id)) continue;           // already registered (a prefix hit or a fork)
    if (by_hash_.count(h) != 0) continue;        // same prefix computed twice: keep the first
    by_hash_.emplace(h, id);
    cached_meta_[id] = {h, parent};
    std::memcpy(&cached_tokens_[static_cast<size_t>(id) * bs], t, sizeof(TokenId) * bs);
    pool_.set_cached(id, true);
  }
}

void KvCacheManager::fork(SeqId from, SeqId to) {
  if (contains(to)) fail(ErrorCode::kInternal, "KV cache: sequence {} already exists", to);
  const Sequence& src = get(from);
  QUARREL_ASSERT(src.n_computed == src.table.n_tokens());
  Sequence s(block_size());
  s.table = src.table.fork(pool_);
  s.tokens = src.tokens;
  s.block_hashes = src.block_hashes;
  s.n_computed = src.n_computed;
  seqs_.emplace(to, std::move(s));
}

void KvCacheManager::release(SeqId seq) {
  Sequence& s = get(seq);
  s.table.release(pool_);
  seqs_.erase(seq);
}

void KvCacheManager::clear_prefix_cache() {
  pool_.evict_idle(pool_.n_cached());
  for (const auto& [h, id] : by_hash_) pool_.set_cached(id, false);  // now all used
  by_hash_.clear();
}

void KvCacheManager::on_evict(BlockId id) {
  auto it = by_hash_.find(cached_meta_[id].hash);
  QUARREL_ASSERT(it != by_hash_.end() && it->second == id);
  by_hash_.erase(it);
}

int32_t KvCacheManager::n_tokens(SeqId seq) const { return get(seq).table.n_tokens(); }
int32_t KvCacheManager::n_computed(SeqId seq) const { return get(seq).n_computed; }
std::span<const TokenId> KvCacheManager::tokens(SeqId seq) const { return get(seq).tokens; }
std::span<const BlockId> KvCacheManager::block_table(SeqId seq) const { return get(seq).table.blocks(); }

std::vector<int32_t> KvCacheManager::slot_mapping(SeqId seq, int32_t pos_begin, int32_t n) const {
  std::vector<int32_t> out(static_cast<size_t>(std::max(n, 0)));
  slot_mapping(seq, pos_begin, n, out.data());
  return out;
}

void KvCacheManager::slot_mapping(SeqId seq, int32_t pos_begin, int32_t n, int32_t* out) const {
  get(seq).table.slot_mapping(pos_begin, n, out);
}

std::vector<SeqId> KvCacheManager::sequences() const {
  std::vector<SeqId> out;
  out.reserve(seqs_.size());
  for (const auto& [id, s] : seqs_) out.push_back(id);
  std::sort(out.begin(), out.end());
  return out;
}

KvCacheStats KvCacheManager::stats() const {
  KvCacheStats st;
  st.blocks_total = pool_.n_total();
  st.blocks_used = pool_.n_used();
  st.blocks_cached = pool_.n_cached();
  st.blocks_free = pool_.n_free();
  st.sequences = static_cast<int32_t>(seqs_.size());
  st.prefix_query_tokens = prefix_query_tokens_;
  st.prefix_hit_tokens = prefix_hit_tokens_;
  return st;
}

void KvCacheManager::check_invariants() const {
  const int32_t n = pool_.n_total();
  const int32_t bs = block_size();
  auto broken = [](const std::string& what) { fail(ErrorCode::kInternal, "KV cache invariant: {}", what); };
  std::vector<int32_t> owners(n, 0);
  for (const auto& [id, s] : seqs_) {
    const int32_t nt = s.table.n_tokens();
    if (s.table.n_blocks() != (nt + bs - 1) / bs) broken(fmt::format("seq {} block count", id));
    if (static_cast<int32_t>(s.tokens.size()) != nt) broken(fmt::format("seq {} token count", id));
    if (s.n_computed < 0 || s.n_computed > nt) broken(fmt::format("seq {} computed count", id));
    if (static_cast<int32_t>(s.block_hashes.size()) != s.n_computed / bs)
      broken(fmt::format("seq {} has {} block hashes for {} computed tokens", id, s.block_hashes.size(), s.n_computed));
    for (BlockId b : s.table.blocks()) {
      if (b < 0 || b >= n) broken(fmt::format("seq {} holds bad block {}", id, b));
      ++owners[b];
    }
  }
  std::vector<uint8_t> on_free(n, 0), on_lru(n, 0);
  for (BlockId b : pool_.free_list()) {
    if (b < 0 || b >= n || on_free[b]) broken(fmt::format("free list entry {}", b));
    on_free[b] = 1;
  }
  for (BlockId b : pool_.lru_order()) {
    if (b < 0 || b >= n || on_lru[b]) broken(fmt::format("LRU entry {}", b));
    on_lru[b] = 1;
  }
  int32_t used = 0, cached_idle = 0, free = 0;
  for (BlockId b = 0; b < n; ++b) {
    const int32_t rc = pool_.refcount(b);
    if (rc != owners[b]) broken(fmt::format("block {} refcount {} but {} owners", b, rc, owners[b]));
    if (rc > 0) {
      ++used;
      if (on_free[b] || on_lru[b]) broken(fmt::format("used block {} is also free or idle", b));
    } else if (pool_.is_cached(b)) {
      ++cached_idle;
      if (!on_lru[b] || on_free[b]) broken(fmt::format("idle cached block {} not (only) on the LRU list", b));
    } else {
      ++free;
      if (!on_free[b] || on_lru[b]) broken(fmt::format("unowned block {} not (only) on the free list", b));
    }
    if (pool_.is_cached(b)) {
      auto it = by_hash_.find(cached_meta_[b].hash);
      if (it == by_hash_.end() || it->second != b) broken(fmt::format("cached block {} has no hash entry", b));
    }
  }
  if (used != pool_.n_used() || cached_idle != pool_.n_cached() || free != pool_.n_free())
    broken("pool counts");
  if (used + cached_idle + free != n) broken("used + cached + free != total");
  for (const auto& [h, b] : by_hash_) {
    if (b < 0 || b >= n || !pool_.is_cached(b) || cached_meta_[b].hash != h)
      broken(fmt::format("hash entry for block {}", b));
  }
}

}  // namespace quarrel::kv
