// Each CUDA kernel against the CPU backend's ops or a float64 reference, on fresh random inputs
// at several shapes (odd sizes included), outputs poisoned with NaN before the run. Skipped
// without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/ops.h"
#include "backend/cuda/attention_decode.h"
#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/fp8.h"
#include "core/ggml_type.h"
#include "core/thread_pool.h"
#include "quant/quant.h"
#include "tests/gpu/cuda/gpu_test_util.h"
#include "tests/gpu/cuda/host_matrix.h"

namespace quarrel::cuda {
namespace {

using test::poisoned;
using test::rel_error;
using test::to_device;
using test::to_host;

const GgmlType kTypes[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q4_0,
                           GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS};

bool float_type(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

using test::dev;
using test::HostMatrix;
using test::random_matrix;

using test::Products;
using test::reference_products;

std::vector<int64_t> ks_for(GgmlType t) {
  if (float_type(t)) return {1, 33, 77, 256, 1000};
  const int64_t be = (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) ? 32 : 256;
  return {be, 3 * be, 11 * be};
}

TEST(CudaKernels, DequantizeRowsMatchesHost) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (GgmlType t : kTypes) {
    for (int64_t k : ks_for(t)) {
      const int64_t n = 7;
      const HostMatrix m = random_matrix(rng, t, k, n);
      const auto wb = to_device(m.bytes);
      const std::vector<int32_t> rows = {6, 0, 3, 3, 5};
      const auto rb = to_device(rows);
      auto out = poisoned(rows.size() * static_cast<size_t>(k) * 4);
      dequantize_rows_f32(dev(m, wb), rb.get<int32_t>(), static_cast<int64_t>(rows.size()), out.get<float>(), nullptr);
      auto out16 = poisoned(rows.size() * static_cast<size_t>(k) * 2);
      dequantize_rows_f16(dev(m, wb), rb.get<int32_t>(), static_cast<int64_t>(rows.size()), out16.get(), nullptr);
      const auto got = to_host<float>(out, rows.size() * static_cast<size_t>(k));
      const auto got16 = to_host<uint16_t>(out16, rows.size() * static_cast<size_t>(k));
      for (size_t r = 0; r < rows.size(); ++r) {
        for (int64_t j = 0; j < k; ++j) {
          const float want = m.values[static_cast<size_t>(rows[r] * k + j)];
          ASSERT_EQ(got[r * static_cast<size_t>(k) + static_cast<size_t>(j)], want)
              << type_name(t) << " k=" << k << " row " << rows[r] << " col " << j;
          ASSERT_EQ(got16[r * static_cast<size_t>(k) + static_cast<size_t>(j)], f32_to_fp16(want));
        }
      }
    }
  }
}

TEST(CudaKernels, MatvecMatchesFloat64Reference) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (GgmlType t : kTypes) {
    for (int64_t k : ks_for(t)) {
      for (int64_t n : {1, 5, 130}) {
        const HostMatrix m = random_matrix(rng, t, k, n);
        const auto wb = to_device(m.bytes);
        for (int cols : {1, 2, 3, 8}) {
          const auto x = test::random_floats(rng, static_cast<size_t>(k * cols));
          const auto xb = to_device(x);
          auto yb = poisoned(static_cast<size_t>(n * cols) * 4);
          matvec(dev(m, wb), xb.get<float>(), k, yb.get<float>(), n, cols, nullptr);
          const auto y = to_host<float>(yb, static_cast<size_t>(n * cols));
          const Products p = reference_products(m, x, cols);
          EXPECT_LT(test::dot_error(y, p.want, p.mag), 1e-5)
              << type_name(t) << " k=" << k << " n=" << n << " cols=" << cols;
        }
      }
    }
  }
}

// The decode shapes' paths: long rows split over 8 warps (k = 14336: 448 chunks, some threads
// taking two), 2..8 rows per block (n just above a multiple of the rows, so the last block is
// partial), one to five columns (pairs of columns decoded together, an odd one alone).
TEST(CudaKernels, MatvecLongRowsEveryFastTypeMatchesFloat64Reference) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int64_t k, n;
  };
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16, GgmlType::BF16, GgmlType::Q5_K,
                     GgmlType::IQ4_XS}) {
    for (const Shape sh : {Shape{14336, 2051}, Shape{4096, 8203}}) {
      const HostMatrix m = random_matrix(rng, t, sh.k, sh.n);
      const auto wb = to_device(m.bytes);
      for (int cols : {1, 2, 5}) {
        const auto x = test::random_floats(rng, static_cast<size_t>(sh.k * cols));
        const auto xb = to_device(x);
        auto yb = poisoned(static_cast<size_t>(sh.n * cols) * 4);
        matvec(dev(m, wb), xb.get<float>(), sh.k, yb.get<float>(), sh.n, cols, nullptr);
        const auto y = to_host<float>(yb, static_cast<size_t>(sh.n * cols));
        const Products p = reference_products(m, x, cols);
        EXPECT_LT(test::dot_error(y, p.want, p.mag), 1e-5)
            << type_name(t) << " k=" << sh.k << " n=" << sh.n << " cols=" << cols;
      }
    }
  }
}

// Tall matrices take the several-rows-per-warp paths (R = 8, 4, 2 for one column; 4, 2 for two).
TEST(CudaKernels, MatvecTallMatricesMatchFloat64Reference) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::F16, GgmlType::Q4_K}) {
    const int64_t k = t == GgmlType::Q4_K ? 256 : 64;
    for (int64_t n : {8193, 16385, 32771}) {
      const HostMatrix m = random_matrix(rng, t, k, n);
      const auto wb = to_device(m.bytes);
      for (int cols : {1, 2}) {
        const auto x = test::random_floats(rng, static_cast<size_t>(k * cols));
        const auto xb = to_device(x);
        auto yb = poisoned(static_cast<size_t>(n * cols) * 4);
        matvec(dev(m, wb), xb.get<float>(), k, yb.get<float>(), n, cols, nullptr);
        const auto y = to_host<float>(yb, static_cast<size_t>(n * cols));
        const Products p = reference_products(m, x, cols);
        EXPECT_LT(test::dot_error(y, p.want, p.mag), 1e-5) << type_name(t) << " n=" << n << " cols=" << cols;
      }
    }
  }
}

// matvec_jobs: 2-3 matrices of one type in one launch (q/k/v and gate/up shapes, scaled down,
// odd row counts so jobs end mid-block), each against its own float64 products; the third job
// adds into its output (a residual).
TEST(CudaKernels, MatvecJobsShareALaunch) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::F32, GgmlType::Q4_K}) {
    const int64_t k = 512;
    const std::vector<int64_t> rows = {4099, 1027, 1029};
    for (int n_jobs : {2, 3}) {
      for (int cols : {1, 2, 3}) {
        const auto x = test::random_floats(rng, static_cast<size_t>(k * cols));
        const auto xb = to_device(x);
        std::vector<HostMatrix> ms;
        std::vector<DeviceBuffer> wbs, ybs;
        std::vector<std::vector<float>> y0;
        std::vector<MatvecJob> jobs;
        for (int j = 0; j < n_jobs; ++j) {
          ms.push_back(random_matrix(rng, t, k, rows[j]));
          wbs.push_back(to_device(ms.back().bytes));
          y0.push_back(test::random_floats(rng, static_cast<size_t>(rows[j] * cols)));
          ybs.push_back(j == 2 ? to_device(y0.back()) : poisoned(static_cast<size_t>(rows[j] * cols) * 4));
        }
        for (int j = 0; j < n_jobs; ++j) {
          MatvecJob jb;
          jb.w = dev(ms[j], wbs[j]);
          jb.y = ybs[j].get<float>();
          jb.ldy = rows[j];
          jb.accumulate = j == 2;
          jobs.push_back(jb);
        }
        matvec_jobs(jobs.data(), n_jobs, xb.get<float>(), k, cols, nullptr);
        for (int j = 0; j < n_jobs; ++j) {
          auto y = to_host<float>(ybs[j], static_cast<size_t>(rows[j] * cols));
          Products p = reference_products(ms[j], x, cols);
          if (j == 2) {
            for (size_t i = 0; i < p.want.size(); ++i) p.want[i] += y0[j][i], p.mag[i] += std::fabs(y0[j][i]);
          }
          EXPECT_LT(test::dot_error(y, p.want, p.mag), 1e-5)
              << type_name(t) << " jobs=" << n_jobs << " job " << j << " cols=" << cols;
        }
      }
    }
  }
}

TEST(CudaKernels, RmsNormGluAddArgmax) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (int64_t n : {1, 8, 77, 4096}) {
    const int64_t rows = 5;
    const auto x = test::random_floats(rng, static_cast<size_t>(n * rows), -3, 3);
    const auto w = test::random_floats(rng, static_cast<size_t>(n));
    const auto xb = to_device(x), wb = to_device(w);
    auto yb = poisoned(static_cast<size_t>(n * rows) * 4);
    rms_norm(xb.get<float>(), wb.get<float>(), yb.get<float>(), n, rows, 1e-5f, nullptr);
    std::vector<float> want(x.size());
    cpu::rms_norm(x.data(), w.data(), want.data(), n, rows, 1e-5f);
    EXPECT_LT(rel_error(to_host<float>(yb, x.size()), std::vector<double>(want.begin(), want.end())), 1e-6);

    const auto g = test::random_floats(rng, x.size(), -6, 6);
    const auto gb = to_device(g);
    for (const GluAct act : {GluAct::kSilu, GluAct::kGeluTanh}) {
      auto sb = poisoned(x.size() * 4);
      glu(gb.get<float>(), xb.get<float>(), sb.get<float>(), static_cast<int64_t>(x.size()), act, nullptr);
      if (act == GluAct::kSilu) {
        cpu::swiglu(g.data(), x.data(), want.data(), static_cast<int64_t>(x.size()));
      } else {
        cpu::geglu(g.data(), x.data(), want.data(), static_cast<int64_t>(x.size()));
      }
      EXPECT_LT(rel_error(to_host<float>(sb, x.size()), std::vector<double>(want.begin(), want.end())), 1e-6)
          << (act == GluAct::kSilu ? "swiglu" : "geglu") << " n " << n;
    }

    // A block's output into the residual stream: plain, scaled (granite), post-normed (gemma),
    // with and without the RMSNorm that follows made in the same launch.
    const auto w2 = test::random_floats(rng, static_cast<size_t>(n));
    const auto w2b = to_device(w2);
    for (const bool post : {false, true}) {
      for (const float scale : {0.0f, 0.22f}) {
        for (const bool next : {false, true}) {
          auto rb = to_device(g);  // the residual stream: x += scale * post_norm(t), t = x here
          auto nb = poisoned(x.size() * 4);
          add_residual(rb.get<float>(), xb.get<float>(), post ? wb.get<float>() : nullptr, n, rows, 1e-5f, scale, nullptr,
                       next ? NextNorm{.w = w2b.get<float>(), .y = nb.get<float>()} : NextNorm{});
          std::vector<float> t = x;
          if (post) cpu::rms_norm(x.data(), w.data(), t.data(), n, rows, 1e-5f);
          std::vector<double> want_r(x.size());
          std::vector<float> xf(x.size());
          for (size_t i = 0; i < x.size(); ++i) {
            want_r[i] = g[i] + (scale > 0.0f ? scale : 1.0f) * static_cast<double>(t[i]);
            xf[i] = static_cast<float>(want_r[i]);
          }
          const std::string what = "add_residual post " + std::to_string(post) + " scale " + std::to_string(scale) +
                                   " next " + std::to_string(next) + " n " + std::to_string(n);
          EXPECT_LT(rel_error(to_host<float>(rb, x.size()), want_r), 1e-6) << what;
          if (next) {
            std::vector<float> yn(x.size());
            cpu::rms_norm(xf.data(), w2.data(), yn.data(), n, rows, 1e-5f);
            EXPECT_LT(rel_error(to_host<float>(nb, x.size()), std::vector<double>(yn.begin(), yn.end())), 1e-6) << what;
          }
        }
      }
    }

    // Q and K per-head norms in one launch: each row as rms_norm makes it.
    {
      const int64_t qr = 3, kr = 2;
      const auto qk = test::random_floats(rng, static_cast<size_t>(n * (qr + kr)), -3, 3);
      auto qb = to_device(std::vector<float>(qk.begin(), qk.begin() + n * qr));
      auto kb = to_device(std::vector<float>(qk.begin() + n * qr, qk.end()));
      rms_norm_qk(qb.get<float>(), wb.get<float>(), qr, kb.get<float>(), w2b.get<float>(), kr, n, 1e-6f, nullptr);
      std::vector<float> wq(static_cast<size_t>(n * qr)), wk(static_cast<size_t>(n * kr));
      cpu::rms_norm(qk.data(), w.data(), wq.data(), n, qr, 1e-6f);
      cpu::rms_norm(qk.data() + n * qr, w2.data(), wk.data(), n, kr, 1e-6f);
      EXPECT_LT(rel_error(to_host<float>(qb, wq.size()), std::vector<double>(wq.begin(), wq.end())), 1e-6) << "q norm";
      EXPECT_LT(rel_error(to_host<float>(kb, wk.size()), std::vector<double>(wk.begin(), wk.end())), 1e-6) << "k norm";
    }

    // Embedding / logit scales and final soft-caps.
    for (const float cap : {0.0f, 5.0f, 30.0f}) {
      auto cb = to_device(g);
      scale_softcap(cb.get<float>(), static_cast<int64_t>(g.size()), 1.7f, cap, nullptr);
      std::vector<double> want_c(g.size());
      for (size_t i = 0; i < g.size(); ++i) {
        const double v = 1.7 * g[i];
        want_c[i] = cap > 0.0f ? cap * std::tanh(v / cap) : v;
      }
      EXPECT_LT(rel_error(to_host<float>(cb, g.size()), want_c), 1e-6) << "scale_softcap cap " << cap;
    }

    auto ab = poisoned(x.size() * 4);
    add(gb.get<float>(), xb.get<float>(), ab.get<float>(), static_cast<int64_t>(x.size()), nullptr);
    const auto sum = to_host<float>(ab, x.size());
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(sum[i], g[i] + x[i]);

    // Argmax with a tie (first wins) and NaNs (skipped).
    std::vector<float> lx = x;
    lx[1] = NAN;
    if (n > 3) lx[static_cast<size_t>(n + 2)] = lx[static_cast<size_t>(n + 3)] = 100.0f;
    const auto lb = to_device(lx);
    auto ib = poisoned(static_cast<size_t>(rows) * 4);
    auto scratch = to_device(std::vector<uint8_t>(argmax_scratch_bytes(n, rows), 0));
    argmax_rows(lb.get<float>(), n, rows, ib.get<int32_t>(), scratch.get(), nullptr);
    const auto ids = to_host<int32_t>(ib, static_cast<size_t>(rows));
    for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(ids[static_cast<size_t>(r)], cpu::argmax(lx.data() + r * n, n)) << n;
  }
}

// Argmax over vocabulary-sized rows, split over many blocks: the maximum tied across slices
// (the lower index wins), NaN rows, a row of one NaN-free element; run twice on the same scratch
// (the per-row counters must be left at zero).
TEST(CudaKernels, ArgmaxOverLargeRows) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (const int64_t n : {int64_t{2047}, int64_t{2049}, int64_t{32000}, int64_t{128256}}) {
    const int64_t rows = 5;
    auto lx = test::random_floats(rng, static_cast<size_t>(n * rows), -10.0f, 10.0f);
    lx[static_cast<size_t>(n - 1)] = lx[static_cast<size_t>(n / 3)] = 50.0f;  // row 0: tie, far apart
    for (int64_t i = 0; i < n; ++i) lx[static_cast<size_t>(n + i)] = NAN;      // row 1: all NaN
    lx[static_cast<size_t>(n + n - 1)] = -3.0f;                                 // but its last
    lx[static_cast<size_t>(2 * n + 5)] = INFINITY;                              // row 2: +inf
    const auto lb = to_device(lx);
    auto scratch = to_device(std::vector<uint8_t>(argmax_scratch_bytes(n, rows), 0));
    for (int rep = 0; rep < 2; ++rep) {
      auto ib = poisoned(static_cast<size_t>(rows) * 4);
      argmax_rows(lb.get<float>(), n, rows, ib.get<int32_t>(), scratch.get(), nullptr);
      const auto ids = to_host<int32_t>(ib, static_cast<size_t>(rows));
      for (int64_t r = 0; r < rows; ++r) {
        EXPECT_EQ(ids[static_cast<size_t>(r)], cpu::argmax(lx.data() + r * n, n)) << n << " row " << r << " rep " << rep;
      }
      EXPECT_EQ(ids[0], n / 3);
      EXPECT_EQ(ids[1], n - 1);
      EXPECT_EQ(ids[2], 5);
    }
  }
}

// copy_words from pinned host memory (read by the kernel through unified addressing), between
// device buffers and back into pinned memory, at several sizes into poisoned buffers; argmax_rows
// storing into pinned host memory (a decode step's ids); copies that are not whole aligned
// 4-byte words are errors.
TEST(CudaKernels, CopyWordsAndArgmaxThroughPinnedMemory) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (const size_t bytes : {size_t{4}, size_t{16}, size_t{44}, size_t{48}, size_t{4096}, size_t{65552}}) {
    PinnedBuffer host;
    host.reset(bytes);
    for (size_t i = 0; i < bytes; ++i) host.get<uint8_t>()[i] = static_cast<uint8_t>(rng());
    const std::vector<uint8_t> want(host.get<uint8_t>(), host.get<uint8_t>() + bytes);
    auto dst = poisoned(bytes);
    copy_words(host.get(), dst.get(), bytes, nullptr);
    EXPECT_EQ(to_host<uint8_t>(dst, bytes), want) << bytes << " bytes from the host";
    auto dst2 = poisoned(bytes);
    copy_words(dst.get(), dst2.get(), bytes, nullptr);
    EXPECT_EQ(to_host<uint8_t>(dst2, bytes), want) << bytes << " bytes on the device";
    PinnedBuffer back;  // device -> pinned host, from a 4-byte (not 16-byte) aligned start
    back.reset(bytes + 4);
    copy_words(dst.get(), back.get<uint8_t>() + 4, bytes, nullptr);
    QUARREL_CUDA_CHECK(cudaDeviceSynchronize());
    EXPECT_EQ(std::vector<uint8_t>(back.get<uint8_t>() + 4, back.get<uint8_t>() + 4 + bytes), want) << bytes << " bytes back";
  }
  const int64_t n = 32000, rows = 3;
  const auto lx = test::random_floats(rng, static_cast<size_t>(n * rows), -10.0f, 10.0f);
  const auto lb = to_device(lx);
  auto scratch = to_device(std::vector<uint8_t>(argmax_scratch_bytes(n, rows), 0));
  PinnedBuffer ids;
  ids.reset(static_cast<size_t>(rows) * 4);
  std::fill_n(ids.get<int32_t>(), rows, -7);
  argmax_rows(lb.get<float>(), n, rows, ids.get<int32_t>(), scratch.get(), nullptr);
  QUARREL_CUDA_CHECK(cudaDeviceSynchronize());
  for (int64_t r = 0; r < rows; ++r) EXPECT_EQ(ids.get<int32_t>()[r], cpu::argmax(lx.data() + r * n, n)) << r;
  auto dst = poisoned(64);
  EXPECT_THROW(copy_words(dst.get(), dst.get<uint8_t>() + 16, 22, nullptr), Error);
  EXPECT_THROW(copy_words(dst.get<uint8_t>() + 2, dst.get(), 16, nullptr), Error);
}

// The device buffers of a RoPE + KV store: q, k, v, cos_sin, slots, k_cache, v_cache.
struct RopeKvBuffers {
  const DeviceBuffer &q, &k, &v, &cos_sin, &slots, &k_cache, &v_cache;
};
RopeKvArgs rope_kv_args(const RopeKvBuffers& b, int n_tok, int n_head, int n_kv, int hd, int n_dims, int block, bool neox) {
  RopeKvArgs ra;
  ra.q = b.q.get<float>();
  ra.k = b.k.get<float>();
  ra.v = b.v.get<float>();
  ra.cos_sin = b.cos_sin.get<float>();
  ra.slots = b.slots.get<int64_t>();
  ra.k_cache = b.k_cache.get();
  ra.v_cache = b.v_cache.get();
  ra.n_tokens = n_tok;
  ra.n_head = n_head;
  ra.n_kv_head = n_kv;
  ra.head_dim = hd;
  ra.n_dims = n_dims;
  ra.block_size = block;
  ra.neox = neox;
  return ra;
}

// RoPE + KV store, then attention, against cpu::rope + cpu::kv_store + cpu::attention over the
// same scattered block tables.
TEST(CudaKernels, RopeKvAndPagedAttentionMatchCpu) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  ThreadPool pool(2);
  struct Shape {
    int n_head, n_kv, hd, block, window;
    bool neox;
  };
  for (const Shape sh : {Shape{4, 2, 8, 16, 0, false}, Shape{8, 2, 64, 16, 0, true}, Shape{4, 4, 128, 8, 5, false},
                         Shape{6, 3, 80, 16, 0, true}, Shape{2, 1, 256, 32, 0, false}}) {
    const int n_blocks = 12, n_tok = 19;  // two sequences: 11 tokens and 8 tokens, prompt-like
    cpu::KvLayout layout{.type = GgmlType::F16, .head_dim = sh.hd, .n_kv_head = sh.n_kv, .block_size = sh.block};
    std::vector<int32_t> perm(n_blocks);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    const std::vector<int32_t> bt0(perm.begin(), perm.begin() + 6), bt1(perm.begin() + 6, perm.end());
    // Sequence 0 at positions 30..40 (earlier positions pre-filled), sequence 1 at 0..7.
    std::vector<int32_t> pos;
    std::vector<int64_t> slots;
    for (int p = 30; p < 41; ++p) pos.push_back(p), slots.push_back(bt0[p / sh.block] * sh.block + p % sh.block);
    for (int p = 0; p < 8; ++p) pos.push_back(p), slots.push_back(bt1[p / sh.block] * sh.block + p % sh.block);
    if (41 > 6 * sh.block) continue;
    const size_t qn = static_cast<size_t>(n_tok * sh.n_head * sh.hd), kn = static_cast<size_t>(n_tok * sh.n_kv * sh.hd);
    auto q = test::random_floats(rng, qn), k = test::random_floats(rng, kn), v = test::random_floats(rng, kn);
    // Caches pre-filled with random K/V for sequence 0's earlier positions (and garbage elsewhere).
    std::vector<uint16_t> kc(layout.layer_bytes(n_blocks) / 2), vc(kc.size());
    for (auto& e : kc) e = f32_to_fp16(std::uniform_real_distribution<float>(-1, 1)(rng));
    for (auto& e : vc) e = f32_to_fp16(std::uniform_real_distribution<float>(-1, 1)(rng));

    cpu::RopeParams rp{.n_dims = sh.hd, .neox = sh.neox, .freq_base = 10000.0f};
    cpu::RopeCache rc(rp, sh.hd, pos);
    std::vector<float> cs(rc.token(0), rc.token(0) + static_cast<size_t>(n_tok) * rc.n_dims());

    const auto qb = to_device(q), kb = to_device(k), vb = to_device(v), csb = to_device(cs), sb = to_device(slots);
    const auto kcb = to_device(kc), vcb = to_device(vc);
    RopeKvArgs ra = rope_kv_args({qb, kb, vb, csb, sb, kcb, vcb}, n_tok, sh.n_head, sh.n_kv, sh.hd, sh.hd, sh.block, sh.neox);
    rope_kv_store(ra, nullptr);

    std::vector<int32_t> tables(bt0);
    tables.insert(tables.end(), bt1.begin(), bt1.end());
    std::vector<int32_t> bt_off(n_tok, 0);
    for (int t = 11; t < n_tok; ++t) bt_off[static_cast<size_t>(t)] = 6;
    const auto pb = to_device(pos), tb = to_device(tables), ob = to_device(bt_off);
    auto outb = poisoned(qn * 4);
    AttentionArgs aa = test::paged_attention_args(qb, kcb, vcb, kDevF16, pb, ob, tb, n_tok,
                                                  {sh.n_head, sh.n_kv, sh.hd, sh.block, sh.window});
    aa.out = outb.get<float>();
    const int64_t q_width = static_cast<int64_t>(sh.n_head) * sh.hd;
    const bool with_q8 = sh.hd % 32 == 0;  // the output also quantized, as decode asks
    auto q8b = poisoned(q8_act_bytes(q_width, n_tok));
    if (with_q8) aa.out_q8 = q8_act_at(q8b.get(), q_width, n_tok);
    attention(aa, nullptr);
    if (with_q8) {  // the same bytes as quantizing the f32 output afterwards
      DeviceBuffer ref(q8_act_bytes(q_width, n_tok));
      QUARREL_CUDA_CHECK(cudaMemset(ref.get(), 0xFF, ref.size()));
      quantize_q8(outb.get<float>(), q_width, q_width, n_tok, q8_act_at(ref.get(), q_width, n_tok), nullptr);
      EXPECT_EQ(to_host<uint8_t>(q8b, q8b.size()), to_host<uint8_t>(ref, ref.size())) << "attention q8, hd " << sh.hd;
    }

    // CPU.
    cpu::rope(q.data(), sh.n_head, 0, rc);
    cpu::rope(k.data(), sh.n_kv, 0, rc);
    cpu::kv_store(layout, kc.data(), vc.data(), k.data(), v.data(), 0, slots);
    std::vector<float> want(qn);
    const std::vector<cpu::AttentionSeq> seqs = {
        {.block_table = bt0, .n_kv = 41, .q = q.data(), .q_pos = std::span<const int32_t>(pos).subspan(0, 11),
         .out = want.data()},
        {.block_table = bt1, .n_kv = 8, .q = q.data() + 11 * sh.n_head * sh.hd,
         .q_pos = std::span<const int32_t>(pos).subspan(11, 8), .out = want.data() + 11 * sh.n_head * sh.hd}};
    const cpu::AttentionParams ap{.n_head = sh.n_head, .n_kv_head = sh.n_kv, .head_dim = sh.hd, .scale = 0.0f,
                                  .softcap = 0.0f, .sliding_window = sh.window, .causal = true};
    cpu::attention(ap, layout, kc.data(), vc.data(), seqs, 0, 0, pool);

    EXPECT_LT(rel_error(to_host<float>(qb, qn), std::vector<double>(q.begin(), q.end())), 1e-6) << "rope q";
    auto as_float = [](const std::vector<uint16_t>& h) {
      std::vector<double> f(h.size());
      for (size_t i = 0; i < h.size(); ++i) f[i] = fp16_to_f32(h[i]);
      return f;
    };
    auto as_floatf = [&](const std::vector<uint16_t>& h) {
      const auto d = as_float(h);
      return std::vector<float>(d.begin(), d.end());
    };
    // Rounding of the rotated K to f16 may differ by one unit where the f32 values differ by one.
    EXPECT_LT(rel_error(as_floatf(to_host<uint16_t>(kcb, kc.size())), as_float(kc)), 1e-3) << "K cache, hd " << sh.hd;
    EXPECT_EQ(to_host<uint16_t>(vcb, vc.size()), vc) << "V cache, hd " << sh.hd;
    EXPECT_LT(rel_error(to_host<float>(outb, qn), std::vector<double>(want.begin(), want.end())), 1e-5)
        << "attention hd " << sh.hd << " window " << sh.window;
  }
}

// rope_kv_store with the Q/K/V biases (qwen2) and the per-head Q/K norms (qwen3, gemma3) folded
// in against the CPU's bias add, rms_norm per head, RoPE and f16 KV store: each alone and both,
// NeoX and adjacent pairs, whole and partial rotation (the dimensions past n_dims biased and
// normed, not rotated), head sizes 64, 128, 256.
TEST(CudaKernels, RopeKvWithBiasesAndQkNormsMatchesCpu) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int n_head, n_kv, hd, n_dims;
    bool neox, bias, norm;
  };
  for (const Shape sh : {Shape{8, 2, 128, 128, true, false, true}, Shape{4, 1, 256, 256, true, false, true},
                         Shape{4, 2, 64, 32, false, true, false}, Shape{6, 3, 128, 64, true, true, true},
                         Shape{7, 1, 128, 128, true, true, false}}) {
    const int n_tok = 5, block = 16, n_blocks = 4;
    cpu::KvLayout layout{.type = GgmlType::F16, .head_dim = sh.hd, .n_kv_head = sh.n_kv, .block_size = block};
    std::vector<int32_t> pos;
    std::vector<int64_t> slots;
    for (int t = 0; t < n_tok; ++t) pos.push_back(3 + 7 * t), slots.push_back(3 + 7 * t);
    const size_t qn = static_cast<size_t>(n_tok * sh.n_head * sh.hd), kn = static_cast<size_t>(n_tok * sh.n_kv * sh.hd);
    auto q = test::random_floats(rng, qn, -3, 3), k = test::random_floats(rng, kn, -3, 3), v = test::random_floats(rng, kn);
    const auto qw = test::random_floats(rng, static_cast<size_t>(sh.hd), 0.5f, 1.5f);
    const auto kw = test::random_floats(rng, static_cast<size_t>(sh.hd), 0.5f, 1.5f);
    const auto bq = test::random_floats(rng, static_cast<size_t>(sh.n_head * sh.hd), -2, 2);
    const auto bk = test::random_floats(rng, static_cast<size_t>(sh.n_kv * sh.hd), -2, 2);
    const auto bv = test::random_floats(rng, static_cast<size_t>(sh.n_kv * sh.hd), -2, 2);
    std::vector<uint16_t> kc(layout.layer_bytes(n_blocks) / 2, 0), vc(kc.size(), 0);
    cpu::RopeParams rp{.n_dims = sh.n_dims, .neox = sh.neox, .freq_base = 1e6f};
    cpu::RopeCache rc(rp, sh.hd, pos);
    std::vector<float> cs(rc.token(0), rc.token(0) + static_cast<size_t>(n_tok) * rc.n_dims());
    const auto qb = to_device(q), kb = to_device(k), vb = to_device(v), csb = to_device(cs), sb = to_device(slots);
    const auto kcb = to_device(kc), vcb = to_device(vc), qwb = to_device(qw), kwb = to_device(kw);
    const auto bqb = to_device(bq), bkb = to_device(bk), bvb = to_device(bv);
    RopeKvArgs ra = rope_kv_args({qb, kb, vb, csb, sb, kcb, vcb}, n_tok, sh.n_head, sh.n_kv, sh.hd, sh.n_dims, block, sh.neox);
    if (sh.bias) ra.q_bias = bqb.get<float>(), ra.k_bias = bkb.get<float>(), ra.v_bias = bvb.get<float>();
    if (sh.norm) ra.q_norm = qwb.get<float>(), ra.k_norm = kwb.get<float>(), ra.norm_eps = 1e-6f;
    rope_kv_store(ra, nullptr);

    if (sh.bias) {
      for (int t = 0; t < n_tok; ++t) {
        cpu::add(q.data() + t * bq.size(), bq.data(), q.data() + t * bq.size(), static_cast<int64_t>(bq.size()));
        cpu::add(k.data() + t * bk.size(), bk.data(), k.data() + t * bk.size(), static_cast<int64_t>(bk.size()));
        cpu::add(v.data() + t * bv.size(), bv.data(), v.data() + t * bv.size(), static_cast<int64_t>(bv.size()));
      }
    }
    if (sh.norm) {
      cpu::rms_norm(q.data(), qw.data(), q.data(), sh.hd, n_tok * sh.n_head, 1e-6f);
      cpu::rms_norm(k.data(), kw.data(), k.data(), sh.hd, n_tok * sh.n_kv, 1e-6f);
    }
    cpu::rope(q.data(), sh.n_head, 0, rc);
    cpu::rope(k.data(), sh.n_kv, 0, rc);
    cpu::kv_store(layout, kc.data(), vc.data(), k.data(), v.data(), 0, slots);
    const std::string what = "hd " + std::to_string(sh.hd) + " n_dims " + std::to_string(sh.n_dims) + (sh.neox ? " neox" : "") +
                             (sh.bias ? " bias" : "") + (sh.norm ? " norm" : "");
    EXPECT_LT(rel_error(to_host<float>(qb, qn), std::vector<double>(q.begin(), q.end())), 1e-6) << "q " << what;
    EXPECT_LT(rel_error(to_host<float>(kb, kn), std::vector<double>(k.begin(), k.end())), 1e-6) << "k " << what;
    const auto kc_got = to_host<uint16_t>(kcb, kc.size());
    std::vector<float> kc_gotf(kc.size());
    std::vector<double> kc_want(kc.size());
    for (size_t i = 0; i < kc.size(); ++i) kc_gotf[i] = fp16_to_f32(kc_got[i]), kc_want[i] = fp16_to_f32(kc[i]);
    EXPECT_LT(rel_error(kc_gotf, kc_want), 1e-3) << "K cache " << what;  // f16 rounding of values that may differ by an ulp
    EXPECT_EQ(to_host<uint16_t>(vcb, vc.size()), vc) << "V cache " << what;  // v + bias: one f32 add on both sides
  }
}

// RoPE + KV store into an fp8 (e4m3) cache: every byte of both caches equals the host's
// rounding (core/fp8.h: nearest even, saturating to +-448) of the rotated K the kernel left in
// k and of v, slots not written keep their bytes. Magnitudes from 2^-12 (e4m3 subnormals) to
// 2^10 (saturated); partial rotation (n_dims < head_dim) included.
TEST(CudaKernels, RopeKvStoresFp8AsHostRounding) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int n_head, n_kv, hd, n_dims, block;
    bool neox;
  };
  for (const Shape sh : {Shape{4, 2, 8, 8, 16, false}, Shape{8, 2, 64, 64, 16, true}, Shape{4, 4, 128, 64, 8, false},
                         Shape{6, 3, 80, 80, 16, true}, Shape{2, 1, 256, 256, 32, false},
                         Shape{32, 8, 128, 128, 16, true}}) {
    SCOPED_TRACE("hd " + std::to_string(sh.hd) + " n_dims " + std::to_string(sh.n_dims));
    const int n_blocks = 10, n_tok = 23;
    std::vector<int32_t> pos(static_cast<size_t>(n_tok));
    std::vector<int64_t> slots(static_cast<size_t>(n_blocks * sh.block));
    std::iota(slots.begin(), slots.end(), 0);
    std::shuffle(slots.begin(), slots.end(), rng);  // distinct slots, scattered over the pool
    slots.resize(static_cast<size_t>(n_tok));
    for (int t = 0; t < n_tok; ++t) pos[static_cast<size_t>(t)] = 3 * t + 1;
    const size_t qn = static_cast<size_t>(n_tok * sh.n_head * sh.hd), kn = static_cast<size_t>(n_tok * sh.n_kv * sh.hd);
    std::uniform_real_distribution<float> expo(-12.0f, 10.0f);
    std::uniform_int_distribution<int> coin(0, 1);
    auto wide = [&](size_t n) {
      std::vector<float> v(n);
      for (auto& e : v) e = std::exp2(expo(rng)) * (coin(rng) ? -1.0f : 1.0f);
      return v;
    };
    const auto q = test::random_floats(rng, qn), k = wide(kn), v = wide(kn);
    const size_t cache_bytes = static_cast<size_t>(n_blocks * sh.block * sh.n_kv * sh.hd);
    std::vector<uint8_t> kc(cache_bytes), vc(cache_bytes);
    for (auto& e : kc) e = static_cast<uint8_t>(rng());
    for (auto& e : vc) e = static_cast<uint8_t>(rng());

    cpu::RopeParams rp{.n_dims = sh.n_dims, .neox = sh.neox, .freq_base = 10000.0f};
    cpu::RopeCache rc(rp, sh.hd, pos);
    std::vector<float> cs(rc.token(0), rc.token(0) + static_cast<size_t>(n_tok) * rc.n_dims());
    const auto qb = to_device(q), kb = to_device(k), vb = to_device(v), csb = to_device(cs), sb = to_device(slots);
    const auto kcb = to_device(kc), vcb = to_device(vc);
    RopeKvArgs ra = rope_kv_args({qb, kb, vb, csb, sb, kcb, vcb}, n_tok, sh.n_head, sh.n_kv, sh.hd, sh.n_dims, sh.block,
                                 sh.neox);
    ra.kv_type = kDevF8E4M3;
    rope_kv_store(ra, nullptr);
    const auto k_rot = to_host<float>(kb, kn);  // K as the kernel rotated it (f32)

    // The rotation itself, against the CPU's (the bytes below are checked against k_rot).
    std::vector<float> k_cpu = k;
    cpu::rope(k_cpu.data(), sh.n_kv, 0, rc);
    EXPECT_LT(rel_error(k_rot, std::vector<double>(k_cpu.begin(), k_cpu.end())), 1e-6) << "rope k";

    std::vector<uint8_t> want_k = kc, want_v = vc;
    for (int t = 0; t < n_tok; ++t) {
      const int64_t slot = slots[static_cast<size_t>(t)], blk = slot / sh.block, off = slot % sh.block;
      for (int g = 0; g < sh.n_kv; ++g) {
        const size_t dst = static_cast<size_t>(((blk * sh.n_kv + g) * sh.block + off) * sh.hd);
        const size_t src = static_cast<size_t>((t * sh.n_kv + g) * sh.hd);
        for (int d = 0; d < sh.hd; ++d) {
          want_k[dst + static_cast<size_t>(d)] = f32_to_e4m3(k_rot[src + static_cast<size_t>(d)]);
          want_v[dst + static_cast<size_t>(d)] = f32_to_e4m3(v[src + static_cast<size_t>(d)]);
        }
      }
    }
    const auto got_k = to_host<uint8_t>(kcb, cache_bytes), got_v = to_host<uint8_t>(vcb, cache_bytes);
    size_t bad_k = 0, bad_v = 0;
    for (size_t i = 0; i < cache_bytes; ++i) bad_k += got_k[i] != want_k[i], bad_v += got_v[i] != want_v[i];
    EXPECT_EQ(bad_k, 0u) << "K cache bytes differing from the host rounding";
    EXPECT_EQ(bad_v, 0u) << "V cache bytes differing from the host rounding";
    size_t saturated = 0;
    for (const float x : v) saturated += std::fabs(x) > kE4M3Max;
    EXPECT_GT(saturated, 0u) << "no value past the saturation (the test would not see it)";
  }
}

// attention_decode with RoPE and the KV store fused in (k_new) against rope_kv_store followed by
// attention_decode: the same outputs and the same cache bytes, bit for bit, for f16 and fp8
// caches, GQA groups of 1, 4 and 8, partial rotation (n_dims < head_dim), a sliding window, and
// keys of earlier steps already cached; several sequences of one token each; both kernels
// (AttentionArgs::max_keys 0: the split one; kShortContextKeys: a block per query head, where
// only the first of a KV head's group stores the new key).
TEST(CudaKernels, AttentionDecodeWithFusedRopeEqualsRopeThenAttention) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int n_head, n_kv, hd, n_dims, block, window;
  };
  for (const int max_keys : {0, kShortContextKeys})
  for (const uint32_t kv_type : {kDevF16, kDevF8E4M3}) {
    for (const Shape sh : {Shape{32, 8, 128, 128, 16, 0}, Shape{8, 8, 64, 32, 32, 0}, Shape{16, 2, 64, 64, 16, 20},
                           Shape{4, 4, 256, 256, 16, 0}}) {
      const int n_tok = 3, blocks_per_seq = 16, n_blocks = n_tok * blocks_per_seq;
      const std::vector<int32_t> pos = {0, 37, 200};
      // Sequence t owns blocks t, t + n_tok, ... (scattered); its token's slot is its position's.
      std::vector<int32_t> tables, bt_off;
      std::vector<int64_t> slots;
      for (int t = 0; t < n_tok; ++t) {
        bt_off.push_back(static_cast<int32_t>(tables.size()));
        for (int b = 0; b < blocks_per_seq; ++b) tables.push_back(t + n_tok * b);
        slots.push_back(static_cast<int64_t>(tables[bt_off[t] + pos[t] / sh.block]) * sh.block + pos[t] % sh.block);
      }
      const size_t elem = kv_type == kDevF16 ? 2 : 1;
      const size_t cache_bytes = static_cast<size_t>(n_blocks) * sh.block * sh.n_kv * sh.hd * elem;
      std::vector<uint8_t> kc0(cache_bytes), vc0(cache_bytes);
      for (size_t i = 0; i < cache_bytes; i += elem) {  // earlier keys: small finite values
        const float a = std::uniform_real_distribution<float>(-1, 1)(rng), b = std::uniform_real_distribution<float>(-1, 1)(rng);
        if (elem == 2) {
          const uint16_t ha = f32_to_fp16(a), hb = f32_to_fp16(b);
          std::memcpy(&kc0[i], &ha, 2), std::memcpy(&vc0[i], &hb, 2);
        } else {
          kc0[i] = f32_to_e4m3(a), vc0[i] = f32_to_e4m3(b);
        }
      }
      const auto q = test::random_floats(rng, static_cast<size_t>(n_tok * sh.n_head * sh.hd));
      const auto k = test::random_floats(rng, static_cast<size_t>(n_tok * sh.n_kv * sh.hd));
      const auto v = test::random_floats(rng, static_cast<size_t>(n_tok * sh.n_kv * sh.hd));
      std::vector<float> cs;
      for (int t = 0; t < n_tok; ++t) {
        for (int p = 0; p < sh.n_dims / 2; ++p) {
          const double ang = pos[t] * std::pow(10000.0, -2.0 * p / sh.n_dims);
          cs.push_back(static_cast<float>(std::cos(ang)));
          cs.push_back(static_cast<float>(std::sin(ang)));
        }
      }
      const auto qb = to_device(q), kb = to_device(k), vb = to_device(v), csb = to_device(cs), slb = to_device(slots);
      const auto posb = to_device(pos), offb = to_device(bt_off), tbb = to_device(tables);
      const auto kq_a = to_device(q), kk_a = to_device(k);  // rope_kv_store rotates these in place
      const auto kca = to_device(kc0), vca = to_device(vc0), kcb = to_device(kc0), vcb = to_device(vc0);
      auto out_a = poisoned(q.size() * 4), out_b = poisoned(q.size() * 4);

      RopeKvArgs r = rope_kv_args({kq_a, kk_a, vb, csb, slb, kca, vca}, n_tok, sh.n_head, sh.n_kv, sh.hd, sh.n_dims,
                                  sh.block, false);
      r.kv_type = kv_type;
      rope_kv_store(r, nullptr);
      AttentionArgs a = test::paged_attention_args(kq_a, kca, vca, kv_type, posb, offb, tbb, n_tok,
                                                   {sh.n_head, sh.n_kv, sh.hd, sh.block, sh.window});
      a.out = out_a.get<float>();
      a.max_keys = max_keys;
      attention_decode(a, nullptr);

      AttentionArgs b = a;
      b.q = qb.get<float>();
      b.out = out_b.get<float>();
      b.k_cache = kcb.get();
      b.v_cache = vcb.get();
      b.k_new = kb.get<float>();
      b.v_new = vb.get<float>();
      b.cos_sin = csb.get<float>();
      b.n_dims = sh.n_dims;
      const int64_t q_width = static_cast<int64_t>(sh.n_head) * sh.hd;  // and quantized, as decode asks
      auto q8b = poisoned(q8_act_bytes(q_width, n_tok));
      b.out_q8 = q8_act_at(q8b.get(), q_width, n_tok);
      attention_decode(b, nullptr);

      const bool short_kernel = short_context(b.max_keys, b.head_dim);
      const std::string what = std::string(short_kernel ? "short-context kernel " : "split kernel ") +
                               (kv_type == kDevF16 ? "f16" : "fp8") + " heads " + std::to_string(sh.n_head) +
                               "/" + std::to_string(sh.n_kv) + " hd " + std::to_string(sh.hd) + " n_dims " +
                               std::to_string(sh.n_dims);
      const auto got = to_host<uint32_t>(out_b, q.size()), want = to_host<uint32_t>(out_a, q.size());
      size_t differ = 0, not_finite = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        differ += got[i] != want[i] ? 1 : 0;
        float f;
        std::memcpy(&f, &want[i], 4);
        not_finite += std::isfinite(f) ? 0 : 1;
      }
      EXPECT_EQ(differ, 0u) << what;
      EXPECT_EQ(not_finite, 0u) << what << ": outputs of rope_kv_store + attention_decode";
      DeviceBuffer q8ref(q8_act_bytes(q_width, n_tok));  // the same bytes as quantizing the output afterwards
      QUARREL_CUDA_CHECK(cudaMemset(q8ref.get(), 0xFF, q8ref.size()));
      quantize_q8(out_b.get<float>(), q_width, q_width, n_tok, q8_act_at(q8ref.get(), q_width, n_tok), nullptr);
      EXPECT_EQ(to_host<uint8_t>(q8b, q8b.size()), to_host<uint8_t>(q8ref, q8ref.size())) << what << ": out_q8";
      EXPECT_TRUE(to_host<uint8_t>(kcb, cache_bytes) == to_host<uint8_t>(kca, cache_bytes)) << what;
      EXPECT_TRUE(to_host<uint8_t>(vcb, cache_bytes) == to_host<uint8_t>(vca, cache_bytes)) << what;
    }
  }
}

}  // namespace
}  // namespace quarrel::cuda
