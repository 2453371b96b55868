// Paged-cache attention against a float64 reference on the values the cache holds: KV types,
// head sizes, block sizes, GQA, causal / non-causal, sliding window, soft-capping, several
// sequences with scattered block tables, 1-3 threads.
#include "backend/cpu/attention.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "core/error.h"
#include "level_test.h"
#include "quant/quant.h"

namespace quarrel::cpu::test {
namespace {

using Attention = LevelTest;

struct KvSetup {
  GgmlType type;
  int head_dim, n_head, n_kv_head, block_size;
};

// Row (block b, head g, offset o) of a cache, as floats.
std::vector<float> read_row(const KvLayout& l, const std::vector<uint8_t>& cache, int64_t b, int g, int64_t o) {
  const size_t rb = l.row_bytes();
  const size_t off = ((static_cast<size_t>(b) * l.n_kv_head + g) * l.block_size + static_cast<size_t>(o)) * rb;
  std::vector<float> v(static_cast<size_t>(l.head_dim));
  quant::dequantize_row(l.type, cache.data() + off, v.data(), l.head_dim);
  return v;
}

TEST_P(Attention, MatchesFloat64Reference) {
  SCOPED_TRACE(seed_note());
  const std::vector<KvSetup> setups = {
      {GgmlType::F16, 64, 8, 2, 16}, {GgmlType::F16, 128, 4, 4, 5},  {GgmlType::F16, 40, 6, 3, 7},
      {GgmlType::F16, 80, 2, 1, 16}, {GgmlType::F32, 64, 8, 2, 16},  {GgmlType::F32, 24, 4, 2, 3},
      {GgmlType::Q8_0, 64, 8, 2, 16}, {GgmlType::Q8_0, 96, 3, 1, 6},
  };
  for (const KvSetup& su : setups) {
    const KvLayout layout{su.type, su.head_dim, su.n_kv_head, su.block_size};
    const int64_t n_blocks = 40;
    std::vector<uint8_t> kc(layout.layer_bytes(n_blocks)), vc(layout.layer_bytes(n_blocks));
    // Two sequences with scattered, disjoint blocks.
    std::vector<int32_t> ids(n_blocks);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng_);
    const int64_t lens[2] = {37, 70};
    std::vector<int32_t> tables[2];
    size_t next_id = 0;
    const int kvw = su.head_dim * su.n_kv_head;
    for (int s = 0; s < 2; ++s) {
      const int64_t nb = (lens[s] + su.block_size - 1) / su.block_size;
      tables[s].assign(ids.begin() + next_id, ids.begin() + next_id + nb);
      next_id += nb;
      const auto k = quarrel::test::random_floats(rng_, static_cast<size_t>(kvw * lens[s]), -2, 2);
      const auto v = quarrel::test::random_floats(rng_, static_cast<size_t>(kvw * lens[s]), -2, 2);
      std::vector<int64_t> slots(lens[s]);
      for (int64_t p = 0; p < lens[s]; ++p) slots[p] = tables[s][p / su.block_size] * int64_t{su.block_size} + p % su.block_size;
      kv_store(layout, kc.data(), vc.data(), k.data(), v.data(), 0, slots);
      // The stored rows are bit-identical to the scalar level's.
      const KvKernels* scalar = kv_kernels(kernels_for(CpuLevel::kScalar), su.type);
      std::vector<uint8_t> row(layout.row_bytes());
      for (int64_t p = 0; p < lens[s]; p += 7) {
        scalar->store(k.data() + p * kvw, row.data(), su.head_dim);
        const int64_t b = tables[s][p / su.block_size], o = p % su.block_size;
        ASSERT_EQ(std::memcmp(row.data(), kc.data() + (static_cast<size_t>(b) * su.n_kv_head * su.block_size + o) * row.size(),
                              row.size()), 0);
      }
    }
    struct Variant {
      bool causal;
      int window;
      float softcap;
      bool prefill;
    };
    for (const Variant var : {Variant{true, 0, 0, false}, Variant{true, 0, 0, true}, Variant{true, 8, 0, true},
                              Variant{false, 0, 0, true}, Variant{true, 0, 20.0f, true}}) {
      for (int threads : {1, 3}) {
        ThreadPool pool(threads);
        AttentionParams p{su.n_head, su.n_kv_head, su.head_dim, 0.0f, var.softcap, var.window, var.causal};
        const int qw = su.head_dim * su.n_head;
        std::vector<std::vector<int32_t>> qpos(2);
        std::vector<std::vector<float>> q(2), out(2);
        std::vector<AttentionSeq> seqs;
        for (int s = 0; s < 2; ++s) {
          if (var.prefill)
            for (int64_t t = lens[s] - 20; t < lens[s]; ++t) qpos[s].push_back(static_cast<int32_t>(t));
          else
            qpos[s].push_back(static_cast<int32_t>(lens[s] - 1));
          q[s] = quarrel::test::random_floats(rng_, qpos[s].size() * qw, -1, 1);
          out[s].assign(qpos[s].size() * qw, NAN);
          seqs.push_back({tables[s], lens[s], q[s].data(), qpos[s], out[s].data()});
        }
        attention(p, layout, kc.data(), vc.data(), seqs, 0, 0, pool);
        const double scale = 1.0 / std::sqrt(static_cast<double>(su.head_dim));
        const int group = su.n_head / su.n_kv_head;
        for (int s = 0; s < 2; ++s) {
          for (size_t i = 0; i < qpos[s].size(); ++i) {
            for (int h = 0; h < su.n_head; ++h) {
              const int g = h / group;
              const float* qv = q[s].data() + i * qw + h * su.head_dim;
              std::vector<double> sc;
              std::vector<std::vector<float>> vs;
              for (int64_t kp = 0; kp < lens[s]; ++kp) {
                if (var.causal && kp > qpos[s][i]) continue;
                if (var.window > 0 && qpos[s][i] - kp >= var.window) continue;
                const int64_t b = tables[s][kp / su.block_size], o = kp % su.block_size;
                const auto kr = read_row(layout, kc, b, g, o);
                double d = 0;
                for (int e = 0; e < su.head_dim; ++e) d += double(qv[e]) * kr[e];
                d *= scale;
                if (var.softcap > 0) d = var.softcap * std::tanh(d / var.softcap);
                sc.push_back(d);
                vs.push_back(read_row(layout, vc, b, g, o));
              }
              const double m = *std::max_element(sc.begin(), sc.end());
              double l = 0;
              for (auto& v : sc) l += (v = std::exp(v - m));
              for (int e = 0; e < su.head_dim; ++e) {
                double o = 0;
                for (size_t t = 0; t < sc.size(); ++t) o += sc[t] * vs[t][e];
                o /= l;
                const float got = out[s][i * qw + h * su.head_dim + e];
                ASSERT_NEAR(got, o, 2e-5 * 2.0) << type_name(su.type) << " hd=" << su.head_dim << " bs=" << su.block_size
                                                 << " causal=" << var.causal << " window=" << var.window
                                                 << " softcap=" << var.softcap << " seq " << s << " q " << i << " head " << h
                                                 << " dim " << e << " threads " << threads;
              }
            }
          }
        }
      }
    }
  }
}

TEST(AttentionLayout, BadLayoutsAreErrors) {
  EXPECT_THROW(validate(KvLayout{GgmlType::Q8_0, 40, 2, 16}), Error);
  EXPECT_THROW(validate(KvLayout{GgmlType::Q4_0, 64, 2, 16}), Error);
  EXPECT_THROW(validate(KvLayout{GgmlType::F16, 64, 0, 16}), Error);
  EXPECT_NO_THROW(validate(KvLayout{GgmlType::F16, 64, 8, 16}));
  const KvLayout l{GgmlType::F16, 64, 8, 16};
  EXPECT_EQ(l.row_bytes(), 128u);
  EXPECT_EQ(l.block_bytes(), 128u * 8 * 16);
}

QUARREL_INSTANTIATE_LEVELS(Attention);

}  // namespace
}  // namespace quarrel::cpu::test
