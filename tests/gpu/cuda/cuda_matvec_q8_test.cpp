// The integer decode path: activation quantization (standalone and fused into RMSNorm and
// SwiGLU) against the same rounding on the host, and matvec_q8 on every type it reads against a
// float64 product of the dequantized weights with the dequantized int8 activations, so the only
// difference left is f32 accumulation order. Fresh random inputs, odd shapes, poisoned outputs.
// Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/error.h"
#include "core/fp16.h"
#include "core/ggml_type.h"
#include "tests/gpu/cuda/gpu_test_util.h"
#include "tests/gpu/cuda/host_matrix.h"

namespace quarrel::cuda {
namespace {

using test::poisoned;
using test::to_device;
using test::to_host;

// Host quantization of one column of k values, rounding as the device does.
struct HostQ8 {
  std::vector<int8_t> q;
  std::vector<float> d, s;
  std::vector<float> values;  // d * q
};
HostQ8 host_q8(const float* x, int64_t k) {
  HostQ8 h;
  for (int64_t c = 0; c < k / 32; ++c) {
    float amax = 0.0f;
    for (int l = 0; l < 32; ++l) amax = std::max(amax, std::fabs(x[32 * c + l]));
    const float d = amax / 127.0f;
    int sum = 0;
    for (int l = 0; l < 32; ++l) {
      const int q = amax > 0.0f ? static_cast<int>(std::nearbyint(x[32 * c + l] / d)) : 0;
      h.q.push_back(static_cast<int8_t>(q));
      h.values.push_back(d * static_cast<float>(q));
      sum += q;
    }
    h.d.push_back(d);
    h.s.push_back(d * static_cast<float>(sum));
  }
  return h;
}

// The device Q8Act of k x cols, copied back per column.
std::vector<HostQ8> fetch_q8(const DeviceBuffer& buf, int64_t k, int cols) {
  const auto bytes = to_host<uint8_t>(buf, q8_act_bytes(k, cols));
  const Q8Act layout = q8_act_at(const_cast<uint8_t*>(bytes.data()), k, cols);
  std::vector<HostQ8> out(static_cast<size_t>(cols));
  for (int c = 0; c < cols; ++c) {
    out[c].q.assign(layout.q + c * layout.ldq, layout.q + c * layout.ldq + k);
    for (int64_t j = 0; j < k / 32; ++j) {
      out[c].d.push_back(layout.ds[c * (layout.ldq / 32) + j].x);
      out[c].s.push_back(layout.ds[c * (layout.ldq / 32) + j].y);
    }
  }
  return out;
}

void expect_same_q8(const HostQ8& got, const HostQ8& want, const char* what) {
  ASSERT_EQ(got.q.size(), want.q.size()) << what;
  EXPECT_TRUE(got.q == want.q) << what;
  EXPECT_TRUE(got.d == want.d) << what;
  EXPECT_TRUE(got.s == want.s) << what;
}

TEST(CudaQ8, QuantizeMatchesHostRounding) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (int64_t k : {32, 96, 4096, 14336}) {
    for (int cols : {1, 3, 8}) {
      const int64_t ldx = k + 7;
      auto x = test::random_floats(rng, static_cast<size_t>(ldx * cols), -4, 4);
      std::fill(x.begin(), x.begin() + 32, 0.0f);  // an all-zero chunk: d = 0, q = 0
      const auto xb = to_device(x);
      auto qb = poisoned(q8_act_bytes(k, cols));
      quantize_q8(xb.get<float>(), ldx, k, cols, q8_act_at(qb.get(), k, cols), nullptr);
      const auto got = fetch_q8(qb, k, cols);
      for (int c = 0; c < cols; ++c) expect_same_q8(got[c], host_q8(x.data() + c * ldx, k), "quantize_q8");
    }
  }
}

TEST(CudaQ8, RmsNormAndSwigluWriteTheirOutputQuantized) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (int64_t n : {32, 2048, 4096, 14336}) {
    for (int rows : {1, 5}) {
      const auto x = test::random_floats(rng, static_cast<size_t>(n * rows), -3, 3);
      const auto w = test::random_floats(rng, static_cast<size_t>(n));
      const auto xb = to_device(x), wb = to_device(w);
      auto yb = poisoned(static_cast<size_t>(n * rows) * 4);
      auto qb = poisoned(q8_act_bytes(n, rows));
      const Q8Act q8 = q8_act_at(qb.get(), n, rows);
      rms_norm(xb.get<float>(), wb.get<float>(), yb.get<float>(), n, rows, 1e-5f, nullptr, &q8);
      auto y = to_host<float>(yb, x.size());
      auto got = fetch_q8(qb, n, rows);
      for (int r = 0; r < rows; ++r) expect_same_q8(got[r], host_q8(y.data() + r * n, n), "rms_norm q8");

      {  // add_residual's following RMSNorm, quantized in the same launch
        auto rb = to_device(x);
        auto nb = poisoned(x.size() * 4);
        auto qb3 = poisoned(q8_act_bytes(n, rows));
        const Q8Act nq = q8_act_at(qb3.get(), n, rows);
        add_residual(rb.get<float>(), yb.get<float>(), wb.get<float>(), n, rows, 1e-5f, 0.0f, nullptr,
                     NextNorm{.w = wb.get<float>(), .y = nb.get<float>(), .q8 = &nq});
        const auto yn = to_host<float>(nb, x.size());
        const auto gotn = fetch_q8(qb3, n, rows);
        for (int r = 0; r < rows; ++r) expect_same_q8(gotn[r], host_q8(yn.data() + r * n, n), "add_residual next q8");
      }

      const auto g = test::random_floats(rng, x.size(), -6, 6);
      const auto gb = to_device(g);
      for (const GluAct act : {GluAct::kSilu, GluAct::kGeluTanh}) {
        auto sb = poisoned(x.size() * 4);
        auto qb2 = poisoned(q8_act_bytes(n, rows));
        glu_q8(gb.get<float>(), xb.get<float>(), sb.get<float>(), n, rows, act, q8_act_at(qb2.get(), n, rows), nullptr);
        y = to_host<float>(sb, x.size());
        for (size_t i = 0; i < x.size(); ++i) {
          const double a = g[i];
          const double z = act == GluAct::kSilu ? a : 1.5957691216057308 * (a + 0.044715 * a * a * a);
          const double want = a / (1.0 + std::exp(-z)) * x[i];
          ASSERT_NEAR(y[i], want, 1e-5 * (1 + std::fabs(want))) << i;
        }
        got = fetch_q8(qb2, n, rows);
        for (int r = 0; r < rows; ++r) expect_same_q8(got[r], host_q8(y.data() + r * n, n), "glu q8");
      }
    }
  }
}

// Float64 products of m with the dequantized int8 columns hx, added to y0 ([n, cols]) unless empty.
test::Products products_on_q8(const test::HostMatrix& m, const std::vector<HostQ8>& hx, const std::vector<float>& y0) {
  const auto cols = static_cast<int64_t>(hx.size());
  test::Products p{std::vector<double>(static_cast<size_t>(m.n * cols)), std::vector<double>(static_cast<size_t>(m.n * cols))};
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < m.n; ++r) {
      const double y_old = y0.empty() ? 0.0 : y0[static_cast<size_t>(c * m.n + r)];
      double sum = y_old, a = std::fabs(y_old);
      for (int64_t j = 0; j < m.k; ++j) {
        const double t = static_cast<double>(m.values[r * m.k + j]) * hx[c].values[j];
        sum += t;
        a += std::fabs(t);
      }
      p.want[static_cast<size_t>(c * m.n + r)] = sum;
      p.mag[static_cast<size_t>(c * m.n + r)] = a;
    }
  }
  return p;
}

// matvec_q8 over the matrices ms (one launch, the second accumulating into its output, or all of
// them with all_accumulate) on fresh int8 activations of `cols` columns, weights read directly and
// staged in shared memory (rows past its 48 KiB or not 16-byte multiples take the direct kernel
// either way), with early loads off and on (a launch whose jobs all accumulate, one unit a thread,
// one column: matvec_q8_block_one_unit's loads before the PDL wait), and with the loop-free kernel
// for one unit a thread off and on, against float64.
void expect_jobs_match(std::mt19937_64& rng, const std::vector<test::HostMatrix>& ms, int64_t k, int cols,
                       const std::string& what, bool all_accumulate = false) {
  std::vector<DeviceBuffer> wbs;
  for (const auto& m : ms) wbs.push_back(to_device(m.bytes));
  const auto x = test::random_floats(rng, static_cast<size_t>(k * cols), -2, 2);
  const auto xb = to_device(x);
  DeviceBuffer qb(q8_act_bytes(k, cols));
  const Q8Act q8 = q8_act_at(qb.get(), k, cols);
  quantize_q8(xb.get<float>(), k, k, cols, q8, nullptr);
  std::vector<HostQ8> hx;
  for (int c = 0; c < cols; ++c) hx.push_back(host_q8(x.data() + c * k, k));

  std::vector<std::vector<float>> y0;
  std::vector<test::Products> want;
  for (size_t i = 0; i < ms.size(); ++i) {
    const bool acc = all_accumulate || i == 1;  // the second matrix adds into what its output held
    y0.push_back(acc ? test::random_floats(rng, static_cast<size_t>(ms[i].n * cols)) : std::vector<float>{});
    want.push_back(products_on_q8(ms[i], hx, y0[i]));
  }
  for (const int staged : {0, 1}) {
    for (const int early : {0, 1}) {
      for (const int one_unit : {0, 1}) {
        set_matvec_staging(staged);
        set_matvec_early_loads(early);
        set_matvec_one_unit(one_unit);
        std::vector<MatvecJob> jobs;
        std::vector<DeviceBuffer> ybs;
        for (size_t i = 0; i < ms.size(); ++i) {
          const bool acc = all_accumulate || i == 1;
          ybs.push_back(acc ? to_device(y0[i]) : poisoned(static_cast<size_t>(ms[i].n * cols) * 4));
          jobs.push_back(
              {.w = test::dev(ms[i], wbs[i]), .y = ybs.back().get<float>(), .ldy = ms[i].n, .accumulate = acc});
        }
        matvec_q8(jobs.data(), static_cast<int>(jobs.size()), q8, cols, nullptr);
        for (size_t i = 0; i < ms.size(); ++i) {
          const auto y = to_host<float>(ybs[i], static_cast<size_t>(ms[i].n * cols));
          EXPECT_LT(test::dot_error(y, want[i].want, want[i].mag), 1e-5)
              << what << " job " << i << " (" << type_name(ms[i].type) << ", n=" << ms[i].n << ") cols=" << cols
              << " staged=" << staged << " early=" << early << " one_unit=" << one_unit;
        }
      }
    }
  }
  set_matvec_staging(-1);
  set_matvec_early_loads(-1);
  set_matvec_one_unit(-1);
}

// One to three matrices per launch (different row counts), 1..8 columns, on every integer type,
// at decode shapes and odd ones (k up to 36864: threads taking one to five units).
TEST(CudaQ8, MatvecMatchesFloat64OnTheQuantizedActivations) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int64_t k, n0, n1, n2;  // n1 = n2 = 0: one matrix
  };
  for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS}) {
    const int64_t be = (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) ? 32 : 256;
    for (const Shape sh : {Shape{be, 1, 0, 0}, Shape{3 * be, 130, 0, 0}, Shape{4096, 1031, 257, 257},
                           Shape{14336, 515, 0, 0}, Shape{2048, 8200, 0, 0}, Shape{4096, 4099, 4099, 0},
                           Shape{28672, 37, 0, 0}, Shape{36864, 33, 0, 0}}) {
      std::vector<test::HostMatrix> ms;
      for (int64_t n : {sh.n0, sh.n1, sh.n2}) {
        if (n != 0) ms.push_back(test::random_matrix(rng, t, sh.k, n));
      }
      for (int cols : {1, 2, 3, 8}) {
        if ((sh.k >= 4096 && cols == 3) || (sh.k > 14336 && cols > 2)) continue;  // keep the host reference quick
        expect_jobs_match(rng, ms, sh.k, cols, std::string(type_name(t)) + " k=" + std::to_string(sh.k));
      }
    }
  }
}

// Launches whose jobs all add into their outputs (the o projection's residual), where the plan
// loads a thread's one unit of weights before the PDL wait (Q4_0, Q8_0; the test forces it for
// every type): k from one block to the most units a block's threads take one each, and past it
// (two units a thread: the usual kernel), odd row counts.
TEST(CudaQ8, AccumulatingLaunchesMatchFloat64WithEarlyLoads) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  for (GgmlType t :
       {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS}) {
    const int64_t be = (t == GgmlType::Q8_0 || t == GgmlType::Q4_0) ? 32 : 256;
    for (const int64_t k : {be, 3 * be, int64_t{2048}, int64_t{4096}, int64_t{8192}, int64_t{16384}}) {
      for (const int64_t n : {int64_t{1}, int64_t{130}, int64_t{4099}}) {
        if (k >= 8192 && n > 130) continue;  // keep the host reference quick
        const std::vector<test::HostMatrix> ms{test::random_matrix(rng, t, k, n)};
        for (int cols : {1, 2}) {
          expect_jobs_match(rng, ms, k, cols, std::string(type_name(t)) + " k=" + std::to_string(k), true);
        }
      }
    }
    // Two accumulating jobs in one launch.
    const std::vector<test::HostMatrix> two{test::random_matrix(rng, t, 4096, 515),
                                            test::random_matrix(rng, t, 4096, 33)};
    expect_jobs_match(rng, two, 4096, 1, std::string(type_name(t)) + " two jobs", true);
  }
}

// Q4_K and Q6_K matrices in one launch (q, k and a Q6_K v of the *_M mixes), in either order.
TEST(CudaQ8, MixedQ4KAndQ6KJobsMatchFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  EXPECT_TRUE(matvec_q8_mixable(kDevQ4_K, kDevQ6_K));
  EXPECT_FALSE(matvec_q8_mixable(kDevQ4_K, kDevQ8_0));
  for (const int64_t k : {int64_t{768}, int64_t{2048}, int64_t{4096}}) {
    const std::vector<test::HostMatrix> ms = {test::random_matrix(rng, GgmlType::Q4_K, k, 1031),
                                              test::random_matrix(rng, GgmlType::Q6_K, k, 257),
                                              test::random_matrix(rng, GgmlType::Q4_K, k, 130)};
    const std::vector<test::HostMatrix> reversed = {ms[1], ms[0]};
    for (int cols : {1, 2, 8}) {
      expect_jobs_match(rng, ms, k, cols, "Q4_K/Q6_K/Q4_K k=" + std::to_string(k));
      expect_jobs_match(rng, reversed, k, cols, "Q6_K/Q4_K k=" + std::to_string(k));
    }
  }
}

// matmul_q8 (the int8 tensor-core product of batches past the matvec's) on every type it reads,
// against float64 on the same int8 activations: one and several column tiles (100 columns: two),
// rows that do not fill a tile, k of one slab, a partial slab (Q4_0, Q8_0: k = 288) and long
// rows, plain and accumulating, with k split over blocks (scratch) and without (no scratch).
// One case of the tensor-core product tests: how to run the product on the case's activations
// into y, and the float64 products it is checked against (without y's old values).
struct MatmulCase {
  std::function<void(const DevMatrix& w, float* y, bool accumulate, float* scratch, size_t scratch_floats)> run;
  test::Products want;
};

// Every type the tensor-core products read, k of one slab, a partial slab (Q4_0, Q8_0) or
// several, odd row counts, the given column counts; plain and accumulating output, with and
// without split k; poisoned outputs. prepare(m, cols) makes fresh activations for the case.
void check_matmuls(std::initializer_list<int> col_counts, double bound, std::mt19937_64& rng,
                   const std::function<MatmulCase(const test::HostMatrix& m, int cols)>& prepare) {
  for (GgmlType t :
       {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS}) {
    ASSERT_TRUE(matmul_q8_supported(static_cast<uint32_t>(t))) << type_name(t);
    const bool k_quant = t != GgmlType::Q4_0 && t != GgmlType::Q8_0;
    struct Shape {
      int64_t k, n;
    };
    for (const Shape sh : {Shape{256, 1}, Shape{k_quant ? 512 : 288, 130}, Shape{4096, 1031}, Shape{14336, 77}}) {
      const test::HostMatrix m = test::random_matrix(rng, t, sh.k, sh.n);
      const DeviceBuffer wb = to_device(m.bytes);
      for (const int cols : col_counts) {
        if (sh.k >= 4096 && cols > 33 && sh.n > 100) continue;  // keep the host reference quick
        const MatmulCase c = prepare(m, cols);
        for (const bool acc : {false, true}) {
          const auto y0 = acc ? test::random_floats(rng, static_cast<size_t>(sh.n * cols)) : std::vector<float>{};
          test::Products want = c.want;
          for (size_t i = 0; i < y0.size(); ++i) {
            want.want[i] += y0[i];
            want.mag[i] += std::fabs(y0[i]);
          }
          for (const bool split : {false, true}) {
            DeviceBuffer yb = acc ? to_device(y0) : poisoned(static_cast<size_t>(sh.n * cols) * 4);
            DeviceBuffer scratch(split ? size_t{8} << 20 : 4);
            c.run(test::dev(m, wb), yb.get<float>(), acc, split ? scratch.get<float>() : nullptr,
                  split ? (size_t{8} << 20) / 4 : 0);
            const auto y = to_host<float>(yb, static_cast<size_t>(sh.n * cols));
            EXPECT_LT(test::dot_error(y, want.want, want.mag), bound)
                << type_name(t) << " k=" << sh.k << " n=" << sh.n << " cols=" << cols << " acc=" << acc
                << " split=" << split;
          }
        }
      }
    }
  }
}

TEST(CudaQ8, MatmulMatchesFloat64OnTheQuantizedActivations) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  check_matmuls({9, 16, 33, 64, 100}, 1e-5, rng, [&](const test::HostMatrix& m, int cols) {
    const auto x = test::random_floats(rng, static_cast<size_t>(m.k * cols), -2, 2);
    const auto xb = std::make_shared<DeviceBuffer>(to_device(x));
    const auto qb = std::make_shared<DeviceBuffer>(q8_act_bytes(m.k, cols));
    const Q8Act q8 = q8_act_at(qb->get(), m.k, cols);
    quantize_q8(xb->get<float>(), m.k, m.k, cols, q8, nullptr);
    std::vector<HostQ8> hx;
    for (int c = 0; c < cols; ++c) hx.push_back(host_q8(x.data() + c * m.k, m.k));
    return MatmulCase{[q8, qb, cols](const DevMatrix& w, float* y, bool acc, float* scratch, size_t floats) {
                        matmul_q8(w, q8, cols, y, w.n, acc, scratch, floats, nullptr);
                      },
                      products_on_q8(m, hx, {})};
  });
}

// matmul_f16act against a float64 product of the dequantized weights with the f16 activations it
// reads. The kernel rounds each weight to f16 after folding its scale in (the scale itself once
// to f16 first), as an F16 copy of the matrix would: at most 2^-11 of each term twice over, so
// the error is within 2.5e-3 of the terms' magnitudes by construction, where a fragment or scale
// in the wrong place is off by tens of percent. 24 columns take the blocks of 8 warps, 33 and
// more those of 16.
TEST(CudaQ8, MatmulF16ActMatchesFloat64) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  check_matmuls({9, 16, 24, 33, 64, 100}, 2.5e-3, rng, [&](const test::HostMatrix& m, int cols) {
    const int64_t ldx = m.k + 8;                                                    // columns not packed
    std::vector<uint16_t> xh(static_cast<size_t>(ldx * cols), f32_to_fp16(NAN));  // padding: poison
    std::vector<float> x(static_cast<size_t>(m.k * cols));
    const auto src = test::random_floats(rng, x.size(), -2, 2);
    for (int c = 0; c < cols; ++c) {
      for (int64_t j = 0; j < m.k; ++j) {
        xh[c * ldx + j] = f32_to_fp16(src[c * m.k + j]);
        x[c * m.k + j] = fp16_to_f32(xh[c * ldx + j]);
      }
    }
    const auto xb = std::make_shared<DeviceBuffer>(to_device(xh));
    return MatmulCase{[xb, ldx, cols](const DevMatrix& w, float* y, bool acc, float* scratch, size_t floats) {
                        matmul_f16act(w, xb->get(), ldx, cols, y, w.n, acc, scratch, floats, nullptr);
                      },
                      test::reference_products(m, x, cols)};
  });
}

TEST(CudaQ8, MatmulF16ActRejectsAStrideItCannotRead) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  const test::HostMatrix m = test::random_matrix(rng, GgmlType::Q4_K, 256, 4);
  const DeviceBuffer wb = to_device(m.bytes);
  DeviceBuffer xb(256 * 16 * 2), yb(4 * 16 * 4);
  EXPECT_THROW(matmul_f16act(test::dev(m, wb), xb.get(), 252, 9, yb.get<float>(), 4, false, nullptr, 0, nullptr),
               Error);
  EXPECT_THROW(matmul_f16act(test::dev(m, wb), xb.get(), 260, 9, yb.get<float>(), 4, false, nullptr, 0, nullptr),
               Error);
}

}  // namespace
}  // namespace quarrel::cuda
