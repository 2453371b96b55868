// attention_prefill (tensor-core prefill attention) against attention() and a float64 reference
// computed from the same f16 cache contents, on fresh random inputs at several shapes (head
// sizes, GQA, block sizes, shuffled block tables, tile edges, two sequences, a sequence
// continuing after cached positions, scrambled positions, a sliding window, a score scale and
// soft-cap as gemma2's), outputs poisoned
// with NaN before the run. Q and P are rounded to f16 on the tensor cores, so the bound is a
// relative error of 2e-3 over the whole output (1e-2 per output row). Also build_prefill_tiles
// on the host, and an informational timing of both kernels on a Llama-3-8B-shaped 512-token
// prompt. The same cases over an fp8 (e4m3) cache: the reference reads the same e4m3 values
// (core/fp8.h), which every kernel widens exactly, so the bounds are the f16 cache's. The GPU
// cases skip without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/attention_decode.h"
#include "backend/cuda/attention_prefill.h"
#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/fp16.h"
#include "core/fp8.h"
#include "tests/gpu/cuda/gpu_test_util.h"

namespace quarrel::cuda {
namespace {

using test::poisoned;
using test::rel_error;
using test::to_device;
using test::to_host;

constexpr double kBound = 2e-3;     // whole output, relative to float64 (f16 Q and P)
constexpr double kRowBound = 1e-2;  // each output row [head_dim]

std::vector<int32_t> tiles_of(const std::vector<int32_t>& bt_off) {
  const int n = static_cast<int>(bt_off.size());
  std::vector<int32_t> tiles(2 * static_cast<size_t>(std::max(n, 1)));
  const int n_tiles = build_prefill_tiles(bt_off.data(), n, tiles.data(), n);
  tiles.resize(2 * static_cast<size_t>(n_tiles));
  return tiles;
}

TEST(CudaAttentionPrefill, BuildTilesCutsRunsOfOneSequence) {
  int32_t tiles[2 * 16];
  EXPECT_EQ(build_prefill_tiles(nullptr, 0, tiles, 16), 0);

  const std::vector<int32_t> one = {5};
  EXPECT_EQ(tiles_of(one), (std::vector<int32_t>{0, 1}));

  const std::vector<int32_t> long_seq(200, 3);
  EXPECT_EQ(tiles_of(long_seq), (std::vector<int32_t>{0, 64, 64, 64, 128, 64, 192, 8}));
  const std::vector<int32_t> exact(128, 0);
  EXPECT_EQ(tiles_of(exact), (std::vector<int32_t>{0, 64, 64, 64}));

  // Three tokens of one sequence, 70 of another, then two of the first again: four tiles.
  std::vector<int32_t> mixed(3, 0);
  mixed.insert(mixed.end(), 70, 6);
  mixed.insert(mixed.end(), 2, 0);
  EXPECT_EQ(tiles_of(mixed), (std::vector<int32_t>{0, 3, 3, 64, 67, 6, 73, 2}));

  // Decode-like: every token its own sequence.
  const std::vector<int32_t> decode = {0, 4, 8, 12};
  EXPECT_EQ(tiles_of(decode), (std::vector<int32_t>{0, 1, 1, 1, 2, 1, 3, 1}));

  // Too little room: the count needed comes back, only max_tiles pairs are written.
  std::fill(std::begin(tiles), std::end(tiles), -7);
  EXPECT_EQ(build_prefill_tiles(mixed.data(), static_cast<int>(mixed.size()), tiles, 2), 4);
  EXPECT_EQ(std::vector<int32_t>(tiles, tiles + 6), (std::vector<int32_t>{0, 3, 3, 64, -7, -7}));

  // Random batches: tiles cover the batch in order, 1..64 tokens each, one sequence each, and a
  // tile ends before 64 tokens only where the sequence changes or the batch ends.
  std::mt19937_64 rng(test::test_seed());
  for (int rep = 0; rep < 50; ++rep) {
    std::vector<int32_t> off;
    const int n_runs = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int r = 0; r < n_runs; ++r) off.insert(off.end(), std::uniform_int_distribution<int>(1, 150)(rng), r * 10);
    const auto t = tiles_of(off);
    int next = 0;
    for (size_t i = 0; i < t.size(); i += 2) {
      ASSERT_EQ(t[i], next);
      ASSERT_GE(t[i + 1], 1);
      ASSERT_LE(t[i + 1], kPrefillTileTokens);
      for (int k = 1; k < t[i + 1]; ++k) ASSERT_EQ(off[static_cast<size_t>(t[i] + k)], off[static_cast<size_t>(t[i])]);
      next += t[i + 1];
      if (t[i + 1] < kPrefillTileTokens && next < static_cast<int>(off.size())) {
        ASSERT_NE(off[static_cast<size_t>(next)], off[static_cast<size_t>(next - 1)]);
      }
    }
    ASSERT_EQ(next, static_cast<int>(off.size()));
  }
}

struct Seq {
  int start_pos, n_tokens;
  bool scramble = false;  // the sequence's positions in random order within the batch
};
struct Case {
  int n_head, n_kv, hd, block, window;
  std::vector<Seq> seqs;
  bool time_it = false;
  bool fp8 = false;  // the cache in fp8 e4m3 (else f16)
  float scale = 0.0f;    // AttentionArgs::scale (0: 1 / sqrt(hd))
  float softcap = 0.0f;  // AttentionArgs::softcap (0: none)
};

std::string describe(const Case& c) {
  std::string s = "heads " + std::to_string(c.n_head) + "/" + std::to_string(c.n_kv) + " hd " + std::to_string(c.hd) +
                  " block " + std::to_string(c.block) + " window " + std::to_string(c.window) + " seqs";
  for (const Seq& q : c.seqs)
    s += " [" + std::to_string(q.start_pos) + "+" + std::to_string(q.n_tokens) + (q.scramble ? " scrambled]" : "]");
  if (c.scale > 0.0f) s += " scale " + std::to_string(c.scale);
  if (c.softcap > 0.0f) s += " softcap " + std::to_string(c.softcap);
  return s + (c.fp8 ? " fp8" : "");
}

// Mean milliseconds of one launch of f over reps, after a warm-up.
template <typename F>
float time_ms(F&& f, int reps) {
  f();
  cudaEvent_t e0, e1;
  QUARREL_CUDA_CHECK(cudaEventCreate(&e0));
  QUARREL_CUDA_CHECK(cudaEventCreate(&e1));
  QUARREL_CUDA_CHECK(cudaEventRecord(e0));
  for (int i = 0; i < reps; ++i) f();
  QUARREL_CUDA_CHECK(cudaEventRecord(e1));
  QUARREL_CUDA_CHECK(cudaEventSynchronize(e1));
  float ms = 0;
  QUARREL_CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
  QUARREL_CUDA_CHECK(cudaEventDestroy(e0));
  QUARREL_CUDA_CHECK(cudaEventDestroy(e1));
  return ms / static_cast<float>(reps);
}

void run_case(std::mt19937_64& rng, const Case& c) {
  SCOPED_TRACE(describe(c));
  // Block tables: each sequence gets the blocks its last position needs, from a shuffled pool
  // with spare blocks (random contents, never attended).
  std::vector<int> n_blocks_of;
  int n_blocks = 3;
  for (const Seq& q : c.seqs) {
    n_blocks_of.push_back((q.start_pos + q.n_tokens + c.block - 1) / c.block);
    n_blocks += n_blocks_of.back();
  }
  std::vector<int32_t> perm(static_cast<size_t>(n_blocks));
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> tables, pos, bt_off;
  for (size_t s = 0; s < c.seqs.size(); ++s) {
    const Seq& q = c.seqs[s];
    const int off = static_cast<int>(tables.size());
    tables.insert(tables.end(), perm.begin() + off, perm.begin() + off + n_blocks_of[s]);
    std::vector<int32_t> p(static_cast<size_t>(q.n_tokens));
    std::iota(p.begin(), p.end(), q.start_pos);
    if (q.scramble) std::shuffle(p.begin(), p.end(), rng);
    pos.insert(pos.end(), p.begin(), p.end());
    bt_off.insert(bt_off.end(), static_cast<size_t>(q.n_tokens), off);
    // With a window, blocks wholly below every token's window are never read: a table entry far
    // out of range there makes any read of them fault.
    if (c.window > 0) {
      const int lo_min = std::max(q.start_pos - c.window + 1, 0);
      for (int b = 0; (b + 1) * c.block <= lo_min; ++b) tables[static_cast<size_t>(off + b)] = 1 << 28;
    }
  }
  const int n_tok = static_cast<int>(pos.size());
  const size_t qn = static_cast<size_t>(n_tok) * static_cast<size_t>(c.n_head * c.hd);
  const size_t cn = static_cast<size_t>(n_blocks) * static_cast<size_t>(c.block * c.n_kv * c.hd);
  // Scores of about unit spread: q in [-3, 3], k and v in [-1, 1].
  const auto q = test::random_floats(rng, qn, -3.0f, 3.0f);
  std::vector<uint16_t> kc(cn), vc(cn);  // f16 cache
  std::vector<uint8_t> kc8, vc8;          // fp8 cache
  std::vector<float> kf(cn), vf(cn);      // the cached values
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  if (c.fp8) {
    kc8.resize(cn);
    vc8.resize(cn);
    for (size_t i = 0; i < cn; ++i) {
      kc8[i] = f32_to_e4m3(unit(rng));
      vc8[i] = f32_to_e4m3(unit(rng));
      kf[i] = e4m3_to_f32(kc8[i]);
      vf[i] = e4m3_to_f32(vc8[i]);
    }
  } else {
    for (size_t i = 0; i < cn; ++i) {
      kc[i] = f32_to_fp16(unit(rng));
      vc[i] = f32_to_fp16(unit(rng));
      kf[i] = fp16_to_f32(kc[i]);
      vf[i] = fp16_to_f32(vc[i]);
    }
  }

  // float64 reference.
  std::vector<double> want(qn);
  const double scale = c.scale > 0.0f ? c.scale : 1.0 / std::sqrt(static_cast<double>(c.hd));
  const auto score = [&](double dot) { return c.softcap > 0.0f ? c.softcap * std::tanh(dot * scale / c.softcap) : dot * scale; };
  const int group = c.n_head / c.n_kv;
  for (int t = 0; t < n_tok; ++t) {
    const int p = pos[static_cast<size_t>(t)];
    const int lo = c.window > 0 ? std::max(p - c.window + 1, 0) : 0;
    const int32_t* bt = tables.data() + bt_off[static_cast<size_t>(t)];
    for (int h = 0; h < c.n_head; ++h) {
      const int g = h / group;
      const float* qr = q.data() + (static_cast<size_t>(t) * static_cast<size_t>(c.n_head) + static_cast<size_t>(h)) *
                                       static_cast<size_t>(c.hd);
      std::vector<double> s(static_cast<size_t>(p - lo + 1));
      std::vector<size_t> rows(s.size());
      double mx = -INFINITY;
      for (int j = lo; j <= p; ++j) {
        const size_t ro = ((static_cast<size_t>(bt[j / c.block]) * static_cast<size_t>(c.n_kv) + static_cast<size_t>(g)) *
                               static_cast<size_t>(c.block) +
                           static_cast<size_t>(j % c.block)) *
                          static_cast<size_t>(c.hd);
        double dot = 0;
        for (int d = 0; d < c.hd; ++d) dot += static_cast<double>(qr[d]) * kf[ro + static_cast<size_t>(d)];
        s[static_cast<size_t>(j - lo)] = score(dot);
        rows[static_cast<size_t>(j - lo)] = ro;
        mx = std::max(mx, score(dot));
      }
      double l = 0;
      for (double& e : s) l += (e = std::exp(e - mx));
      double* o = want.data() + (qr - q.data());
      for (int d = 0; d < c.hd; ++d) o[d] = 0;
      for (size_t i = 0; i < s.size(); ++i)
        for (int d = 0; d < c.hd; ++d) o[d] += s[i] / l * vf[rows[i] + static_cast<size_t>(d)];
    }
  }

  const auto tiles = tiles_of(bt_off);
  const int n_tiles = static_cast<int>(tiles.size() / 2);
  const auto qb = to_device(q), pb = to_device(pos), ob = to_device(bt_off), tb = to_device(tables),
             tilesb = to_device(tiles);
  const auto kcb = c.fp8 ? to_device(kc8) : to_device(kc), vcb = c.fp8 ? to_device(vc8) : to_device(vc);
  auto out_ref = poisoned(qn * 4), out_fast = poisoned(qn * 4);
  AttentionArgs a = test::paged_attention_args(qb, kcb, vcb, c.fp8 ? kDevF8E4M3 : kDevF16, pb, ob, tb, n_tok,
                                               {c.n_head, c.n_kv, c.hd, c.block, c.window});
  a.scale = c.scale;
  a.softcap = c.softcap;
  AttentionArgs ar = a;
  ar.out = out_ref.get<float>();
  attention(ar, nullptr);
  a.out = out_fast.get<float>();
  attention_prefill(a, tilesb.get<int32_t>(), n_tiles, nullptr);
  const auto got_ref = to_host<float>(out_ref, qn);
  const auto got = to_host<float>(out_fast, qn);

  // The split decode kernel (any batch; decode uses it for <= 8 tokens) in f32 like attention().
  auto out_dec = poisoned(qn * 4);
  AttentionArgs ad = a;
  ad.out = out_dec.get<float>();
  attention_decode(ad, nullptr);
  const double err_dec = rel_error(to_host<float>(out_dec, qn), want);
  EXPECT_LT(err_dec, 1e-4) << "attention_decode against float64, " << describe(c);
  // Its short-context kernel (taken when AttentionArgs::max_keys promises at most
  // kShortContextKeys keys) is right for any context: here also far past the promise.
  auto out_short = poisoned(qn * 4);
  AttentionArgs as = a;
  as.out = out_short.get<float>();
  as.max_keys = kShortContextKeys;
  attention_decode(as, nullptr);
  EXPECT_LT(rel_error(to_host<float>(out_short, qn), want), 1e-4)
      << "attention_decode (short-context kernel: " << short_context(as.max_keys, as.head_dim)
      << ") against float64, " << describe(c);

  const double err_ref = rel_error(got_ref, want), err = rel_error(got, want);
  EXPECT_LT(err_ref, 1e-4) << "attention() against float64";
  EXPECT_LT(err, kBound) << "attention_prefill against float64";
  EXPECT_LT(rel_error(got, std::vector<double>(got_ref.begin(), got_ref.end())), kBound)
      << "attention_prefill against attention()";
  const size_t hd = static_cast<size_t>(c.hd);
  int bad_rows = 0;
  for (size_t r = 0; r < qn / hd && bad_rows < 5; ++r) {
    const std::vector<float> row(got.begin() + static_cast<std::ptrdiff_t>(r * hd),
                                 got.begin() + static_cast<std::ptrdiff_t>((r + 1) * hd));
    const std::vector<double> wrow(want.begin() + static_cast<std::ptrdiff_t>(r * hd),
                                   want.begin() + static_cast<std::ptrdiff_t>((r + 1) * hd));
    const double e = rel_error(row, wrow);
    if (!(e < kRowBound)) {
      ++bad_rows;
      ADD_FAILURE() << "token " << r / static_cast<size_t>(c.n_head) << " head " << r % static_cast<size_t>(c.n_head)
                    << " (position " << pos[r / static_cast<size_t>(c.n_head)] << "): row error " << e;
    }
  }
  std::printf("[ info ] %s: %d tiles, relative error %.2e (attention(): %.2e)\n", describe(c).c_str(), n_tiles, err,
              err_ref);

  if (c.time_it) {
    const float ms_ref = time_ms([&] { attention(ar, nullptr); }, 20);
    const float ms_fast = time_ms([&] { attention_prefill(a, tilesb.get<int32_t>(), n_tiles, nullptr); }, 20);
    const float ms_dec = time_ms([&] { attention_decode(ad, nullptr); }, 20);
    std::printf("[ time ] %s: attention() %.3f ms, attention_prefill %.3f ms (%.1fx), attention_decode %.3f ms\n",
                describe(c).c_str(), ms_ref, ms_fast, ms_ref / ms_fast, ms_dec);
  }
}

void run_cases(const std::vector<Case>& cases) {
  std::mt19937_64 rng(test::test_seed());
  for (const Case& c : cases) run_case(rng, c);
}

// Llama-3-8B shape, one 512-token prompt (timed).
TEST(CudaAttentionPrefill, LlamaPromptMatchesAttentionAndFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({{32, 8, 128, 16, 0, {{0, 512}}, true}});
}

// 1, 63, 64, 65, 200, 512 tokens: partial tiles, exact tiles, one row past a tile; 33 at head size 256.
TEST(CudaAttentionPrefill, TileEdgesMatchAttentionAndFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {4, 4, 64, 32, 0, {{0, 1}}},
      {4, 4, 64, 32, 0, {{0, 63}}},
      {4, 4, 64, 32, 0, {{0, 64}}},
      {4, 4, 64, 32, 0, {{0, 65}}},
      {4, 4, 64, 32, 0, {{0, 200}}},
      {4, 4, 64, 16, 0, {{0, 512}}},
      {32, 8, 128, 16, 0, {{0, 1}}},
      {32, 8, 128, 32, 0, {{0, 65}}},
      {4, 1, 256, 16, 0, {{0, 33}}},  // the short kernel's 32 keys a pass at head size 256, and one past
  });
}

// Two sequences in one batch, one continuing after 37 cached positions; decode-like batches.
TEST(CudaAttentionPrefill, SeveralSequencesMatchAttentionAndFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {4, 4, 128, 32, 0, {{37, 100}, {0, 65}}},
      {32, 8, 64, 16, 0, {{0, 63}, {37, 200}}},
      {32, 8, 128, 16, 0, {{37, 200}, {0, 64}}},
      {4, 4, 64, 16, 0, {{37, 1}, {5, 1}, {0, 1}}},
  });
}

// A sliding window of 50 (in the second case, table entries of blocks below every window point
// far out of the cache), and positions in random order inside the tiles.
TEST(CudaAttentionPrefill, SlidingWindowAndScrambledPositionsMatchAttentionAndFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {4, 4, 64, 16, 50, {{37, 200}, {0, 65}}},
      {32, 8, 128, 32, 50, {{300, 100}, {0, 70}}},
      {8, 2, 64, 16, 0, {{10, 150, true}}},
      {4, 4, 128, 16, 50, {{200, 130, true}, {0, 3}}},
  });
}

TEST(CudaAttentionPrefill, LargerAndOddHeadSizesMatchAttentionAndFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {4, 4, 80, 16, 0, {{0, 200}, {5, 33}}},
      {8, 2, 96, 16, 0, {{37, 130}}},
      {2, 1, 256, 16, 0, {{0, 150}}},
      {4, 2, 256, 32, 50, {{100, 70}}},
  });
}

// Gemma2's attention: scores scaled (not by 1/sqrt(hd): gemma2's query_pre_attn_scalar^-1/2 is
// 1/12 for hd 256) and soft-capped. With q in [-3, 3] and k in [-1, 1] a scaled score has a
// spread of about 16 * scale: cap 50 is gemma2's (nearly linear here), caps of 1.5-3 bend most
// scores. Prompts, decode batches (both decode kernels, through run_case), a sliding window,
// GQA, both caches.
TEST(CudaAttentionPrefill, ScaleAndSoftcapMatchFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {8, 4, 256, 16, 0, {{0, 150}}, false, false, 1.0f / 12.0f, 50.0f},
      {8, 4, 128, 16, 0, {{0, 90}, {37, 1}}, false, false, 0.125f, 2.0f},
      {4, 2, 256, 32, 50, {{100, 70}}, false, false, 0.0625f, 1.5f},
      {4, 1, 256, 16, 0, {{300, 1}, {20, 1}}, false, false, 1.0f / 12.0f, 2.0f},
      {8, 4, 256, 16, 0, {{0, 150}}, false, true, 1.0f / 12.0f, 3.0f},
      {4, 2, 128, 16, 0, {{0, 40}, {20, 1}}, false, true, 0.125f, 2.0f},
  });
}

// Decode batches (one token per sequence) over long contexts: attention_decode's splits hold
// many keys each; GQA groups of 1, 4 and 7 query heads; a sliding window (timed: 8B shape).
TEST(CudaAttentionPrefill, DecodeOverLongContextsMatchesFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {32, 8, 128, 16, 0, {{4000, 1}}, true},
      {32, 8, 128, 16, 0, {{4000, 1}, {100, 1}, {0, 1}}},
      {32, 8, 128, 32, 50, {{3000, 2}}},
      {28, 4, 128, 16, 0, {{500, 3}}},
      {4, 4, 256, 16, 0, {{300, 1}}},
      {8, 8, 64, 16, 0, {{1030, 1}}},
  });
}

// An fp8 (e4m3) cache: every head size of the tensor-core path (each has its own shared-memory
// layout of staging and f16 tiles), tile edges, GQA, two sequences, scrambled positions, sliding
// windows with unreachable table entries; against float64 over the same e4m3 values.
TEST(CudaAttentionPrefill, Fp8CachePromptsMatchFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {32, 8, 128, 16, 0, {{0, 512}}, true, true},
      {4, 4, 64, 32, 0, {{0, 1}}, false, true},
      {4, 4, 64, 32, 0, {{0, 65}}, false, true},
      {4, 4, 64, 16, 0, {{0, 200}}, false, true},
      {32, 8, 64, 16, 0, {{0, 63}, {37, 200}}, false, true},
      {4, 4, 128, 32, 0, {{37, 100}, {0, 65}}, false, true},
      {4, 4, 80, 16, 0, {{0, 200}, {5, 33}}, false, true},
      {8, 2, 96, 16, 0, {{37, 130}}, false, true},
      {2, 1, 256, 16, 0, {{0, 150}}, false, true},
      {4, 2, 256, 32, 50, {{100, 70}}, false, true},
      {4, 4, 64, 16, 50, {{37, 200}, {0, 65}}, false, true},
      {32, 8, 128, 32, 50, {{300, 100}, {0, 70}}, false, true},
      {8, 2, 64, 16, 0, {{10, 150, true}}, false, true},
  });
}

// fp8 decode batches over long contexts (GQA 1, 4, 7; a window), and head sizes off the fast
// paths (attention(): 8-element, pair and single-element loads).
TEST(CudaAttentionPrefill, Fp8CacheDecodeAndOtherHeadSizesMatchFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  run_cases({
      {32, 8, 128, 16, 0, {{4000, 1}}, true, true},
      {32, 8, 128, 16, 0, {{4000, 1}, {100, 1}, {0, 1}}, false, true},
      {32, 8, 128, 32, 50, {{3000, 2}}, false, true},
      {28, 4, 128, 16, 0, {{500, 3}}, false, true},
      {4, 4, 256, 16, 0, {{300, 1}}, false, true},
      {8, 8, 64, 16, 0, {{1030, 1}}, false, true},
      {4, 2, 72, 16, 0, {{0, 40}, {20, 1}}, false, true},
      {4, 2, 100, 16, 0, {{0, 40}, {20, 1}}, false, true},
      {4, 2, 33, 16, 0, {{0, 40}, {20, 1}}, false, true},
  });
}

// Head sizes off the fast path run attention() itself: the same bits.
TEST(CudaAttentionPrefill, OtherHeadSizesFallBackToAttention) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (const int hd : {8, 72, 100}) {
    const int n_head = 4, n_kv = 2, block = 16, n_tok = 40, n_blocks = 4;
    const size_t qn = static_cast<size_t>(n_tok * n_head * hd), cn = static_cast<size_t>(n_blocks * block * n_kv * hd);
    const auto q = test::random_floats(rng, qn);
    std::vector<uint16_t> kc(cn), vc(cn);
    for (auto& e : kc) e = f32_to_fp16(std::uniform_real_distribution<float>(-1, 1)(rng));
    for (auto& e : vc) e = f32_to_fp16(std::uniform_real_distribution<float>(-1, 1)(rng));
    std::vector<int32_t> pos(static_cast<size_t>(n_tok)), bt_off(static_cast<size_t>(n_tok), 0);
    std::iota(pos.begin(), pos.end(), 3);
    const std::vector<int32_t> tables = {2, 0, 3, 1};
    const auto tiles = tiles_of(bt_off);
    const auto qb = to_device(q), kcb = to_device(kc), vcb = to_device(vc), pb = to_device(pos),
               ob = to_device(bt_off), tb = to_device(tables), tilesb = to_device(tiles);
    auto out_ref = poisoned(qn * 4), out_fast = poisoned(qn * 4);
    AttentionArgs a;
    a.q = qb.get<float>();
    a.k_cache = kcb.get();
    a.v_cache = vcb.get();
    a.positions = pb.get<int32_t>();
    a.bt_offset = ob.get<int32_t>();
    a.block_tables = tb.get<int32_t>();
    a.n_tokens = n_tok;
    a.n_head = n_head;
    a.n_kv_head = n_kv;
    a.head_dim = hd;
    a.block_size = block;
    EXPECT_FALSE(attention_prefill_supported(hd));
    a.out = out_ref.get<float>();
    attention(a, nullptr);
    a.out = out_fast.get<float>();
    attention_prefill(a, tilesb.get<int32_t>(), static_cast<int>(tiles.size() / 2), nullptr);
    const auto want = to_host<float>(out_ref, qn), got = to_host<float>(out_fast, qn);
    EXPECT_EQ(got, want) << "hd " << hd;  // no NaN: poisoned outputs never compare equal
  }
}

}  // namespace
}  // namespace quarrel::cuda
