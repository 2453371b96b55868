#include "backend/cpu/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <vector>

#include "backend/cpu/kernels.h"
#include "core/error.h"

namespace quarrel::cpu {

size_t KvLayout::row_bytes() const { return quarrel::row_bytes(type, static_cast<uint64_t>(head_dim)); }
size_t KvLayout::block_bytes() const { return row_bytes() * static_cast<size_t>(block_size) * static_cast<size_t>(n_kv_head); }
size_t KvLayout::layer_bytes(int64_t n_blocks) const { return block_bytes() * static_cast<size_t>(n_blocks); }

void validate(const KvLayout& l) {
  if (l.type != GgmlType::F16 && l.type != GgmlType::F32 && l.type != GgmlType::Q8_0) {
    fail(ErrorCode::kInvalidArgument, "KV cache type {} is not supported (F16, F32, Q8_0)", type_name(l.type));
  }
  if (l.head_dim <= 0 || l.n_kv_head <= 0 || l.block_size <= 0) {
    fail(ErrorCode::kInvalidArgument, "KV cache layout: head_dim {}, n_kv_head {}, block_size {} must be positive",
         l.head_dim, l.n_kv_head, l.block_size);
  }
  if (l.type == GgmlType::Q8_0 && l.head_dim % 32 != 0) {
    fail(ErrorCode::kInvalidArgument, "KV cache type Q8_0 needs head_dim a multiple of 32, not {}", l.head_dim);
  }
}

void kv_store(const KvLayout& l, void* k_cache, void* v_cache, const float* k, const float* v, int64_t ld,
              std::span<const int64_t> slots) {
  const KvKernels* kv = kv_kernels(kernels(), l.type);
  QUARREL_ASSERT(kv != nullptr);
  if (ld == 0) ld = static_cast<int64_t>(l.head_dim) * l.n_kv_head;
  const size_t rb = l.row_bytes();
  for (size_t t = 0; t < slots.size(); ++t) {
    const int64_t b = slots[t] / l.block_size, o = slots[t] % l.block_size;
    for (int g = 0; g < l.n_kv_head; ++g) {
      const size_t off = ((static_cast<size_t>(b) * l.n_kv_head + g) * l.block_size + static_cast<size_t>(o)) * rb;
      const int64_t src = static_cast<int64_t>(t) * ld + static_cast<int64_t>(g) * l.head_dim;
      kv->store(k + src, static_cast<uint8_t*>(k_cache) + off, l.head_dim);
      kv->store(v + src, static_cast<uint8_t*>(v_cache) + off, l.head_dim);
    }
  }
}

namespace {

struct Scratch {
  std::vector<float> scores, acc, m, l;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

}  // namespace

void attention(const AttentionParams& p, const KvLayout& layout, const void* k_cache, const void* v_cache,
               std::span<const AttentionSeq> seqs, int64_t ldq, int64_t ldo, ThreadPool& pool) {
  validate(layout);
  if (p.n_kv_head != layout.n_kv_head || p.head_dim != layout.head_dim || p.n_head <= 0 || p.n_head % p.n_kv_head != 0) {
    fail(ErrorCode::kInvalidArgument, "attention: {} heads / {} KV heads / head_dim {} do not match the cache ({} / {})",
         p.n_head, p.n_kv_head, p.head_dim, layout.n_kv_head, layout.head_dim);
  }
  const CpuKernels& K = kernels();
  const KvKernels& kv = *kv_kernels(K, layout.type);
  const int hd = p.head_dim, group = p.n_head / p.n_kv_head, bs = layout.block_size;
  const float scale = p.scale > 0.0f ? p.scale : 1.0f / std::sqrt(static_cast<float>(hd));
  if (ldq == 0) ldq = static_cast<int64_t>(hd) * p.n_head;
  if (ldo == 0) ldo = static_cast<int64_t>(hd) * p.n_head;
  const size_t rb = layout.row_bytes();

  // Items: (sequence, query, KV head).
  std::vector<int64_t> first(seqs.size() + 1, 0);
  for (size_t s = 0; s < seqs.size(); ++s) first[s + 1] = first[s] + static_cast<int64_t>(seqs[s].q_pos.size()) * p.n_kv_head;
  const int64_t n_items = first.back();

  auto do_item = [&](int64_t item) {
    const size_t si = static_cast<size_t>(std::upper_bound(first.begin(), first.end(), item) - first.begin() - 1);
    const AttentionSeq& seq = seqs[si];
    const int64_t local = item - first[si];
    const int64_t qi = local / p.n_kv_head;
    const int g = static_cast<int>(local % p.n_kv_head);
    const int32_t qp = seq.q_pos[static_cast<size_t>(qi)];
    int64_t t_end = seq.n_kv;
    if (p.causal) t_end = std::min<int64_t>(t_end, static_cast<int64_t>(qp) + 1);
    int64_t t_begin = 0;
    if (p.sliding_window > 0) t_begin = std::max<int64_t>(0, static_cast<int64_t>(qp) - p.sliding_window + 1);
    QUARREL_ASSERT(t_end <= static_cast<int64_t>(seq.block_table.size()) * bs);

    Scratch& sc = scratch();
    sc.scores.resize(static_cast<size_t>(bs));
    sc.acc.assign(static_cast<size_t>(group) * hd, 0.0f);
    sc.m.assign(static_cast<size_t>(group), -INFINITY);
    sc.l.assign(static_cast<size_t>(group), 0.0f);
    const float* qbase = seq.q + qi * ldq + static_cast<int64_t>(g) * group * hd;

    for (int64_t t0 = t_begin; t0 < t_end;) {
      const int64_t bi = t0 / bs;
      const int64_t t1 = std::min<int64_t>(t_end, (bi + 1) * bs);
      const int64_t n = t1 - t0;
      const size_t off =
          ((static_cast<size_t>(seq.block_table[static_cast<size_t>(bi)]) * p.n_kv_head + g) * bs + static_cast<size_t>(t0 - bi * bs)) * rb;
      const void* kb = static_cast<const uint8_t*>(k_cache) + off;
      const void* vb = static_cast<const uint8_t*>(v_cache) + off;
      for (int h = 0; h < group; ++h) {
        float* s = sc.scores.data();
        kv.dot(kb, rb, n, hd, qbase + static_cast<int64_t>(h) * hd, s);
        if (p.softcap > 0.0f)
          K.softcap(s, n, scale, p.softcap);
        else
          K.scale(s, scale, s, n);
        const float bm = K.max(s, n);
        const float m_old = sc.m[h];
        const float m_new = std::max(m_old, bm);
        float* acc = sc.acc.data() + static_cast<size_t>(h) * hd;
        if (m_new > m_old && m_old != -INFINITY) {
          const float corr = std::exp(m_old - m_new);
          sc.l[h] *= corr;
          K.scale(acc, corr, acc, hd);
        }
        sc.m[h] = m_new;
        sc.l[h] += K.exp_sub_sum(s, n, m_new);
        kv.axpy(vb, rb, n, hd, s, acc);
      }
      t0 = t1;
    }
    float* obase = seq.out + qi * ldo + static_cast<int64_t>(g) * group * hd;
    for (int h = 0; h < group; ++h) {
      const float l = sc.l[h];
      K.scale(sc.acc.data() + static_cast<size_t>(h) * hd, l > 0.0f ? 1.0f / l : 0.0f, obase + static_cast<int64_t>(h) * hd, hd);
    }
  };

  if (pool.size() == 1 || n_items <= 1) {
    for (int64_t i = 0; i < n_items; ++i) do_item(i);
    return;
  }
  std::atomic<int64_t> next{0};
  pool.run_on_all([&](int, int) {
    for (int64_t i = next.fetch_add(1, std::memory_order_relaxed); i < n_items; i = next.fetch_add(1, std::memory_order_relaxed))
      do_item(i);
  });
}

}  // namespace quarrel::cpu
