// matvec_jobs' glu form (MatvecFuse::glu): gate and up in one launch that writes
// act(Wg x) * (Wu x) (SwiGLU's silu, GeGLU's tanh GELU), against float64. Fresh random inputs at several shapes (odd k, rows that
// end mid-block, the 8B/1B shapes' k), outputs poisoned before the run. Skipped without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cuda/kernels.h"
#include "common/random.h"
#include "core/error.h"
#include "core/ggml_type.h"
#include "tests/gpu/cuda/gpu_test_util.h"
#include "tests/gpu/cuda/host_matrix.h"

namespace quarrel::cuda {
namespace {

using test::dev;
using test::HostMatrix;
using test::poisoned;
using test::Products;
using test::random_matrix;
using test::to_device;
using test::to_host;

// Gate/up types of the f32-activation matvec (F16/BF16/F32 models; Q4_K as a block type).
const GgmlType kTypes[] = {GgmlType::F16, GgmlType::BF16, GgmlType::F32, GgmlType::Q4_K};

// 1 and 2 columns, 2 rows per block (small n) and 4 (F16 with n large enough for 1024 blocks of
// 4), against act(g) * u of the float64 products.
TEST(CudaMatvecGlu, GateUpMakeSwigluAndGegluOutput) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  struct Shape {
    int64_t k, n;
  };
  for (GgmlType t : kTypes) {
    for (const Shape sh : {Shape{256, 333}, Shape{4096, 4099}, Shape{512, 2051}, Shape{2048, 8195}}) {
      if (t == GgmlType::F32 && sh.n > 5000) continue;  // 128 MB of f32 weights: nothing a smaller n does not show
      const HostMatrix g = random_matrix(rng, t, sh.k, sh.n), u = random_matrix(rng, t, sh.k, sh.n);
      const auto gb = to_device(g.bytes), ub = to_device(u.bytes);
      for (int cols = 1; cols <= kMatvecGluMaxCols; ++cols) {
       for (const GluAct act : {GluAct::kSilu, GluAct::kGeluTanh}) {
        const auto x = test::random_floats(rng, static_cast<size_t>(sh.k * cols), -2, 2);
        const auto xb = to_device(x);
        auto yb = poisoned(static_cast<size_t>(sh.n * cols) * 4);
        auto unused = poisoned(static_cast<size_t>(sh.n * cols) * 4);
        const MatvecJob jobs[2] = {{.w = dev(g, gb), .y = yb.get<float>(), .ldy = sh.n},
                                   {.w = dev(u, ub), .y = unused.get<float>(), .ldy = sh.n}};
        matvec_jobs(jobs, 2, xb.get<float>(), sh.k, cols, nullptr, MatvecFuse{.glu = true, .act = act});
        const Products pg = test::reference_products(g, x, cols), pu = test::reference_products(u, x, cols);
        const auto y = to_host<float>(yb, static_cast<size_t>(sh.n * cols));
        double worst = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          const double a = pg.want[i], b = pu.want[i];
          // act(a) = a * sigmoid(z): z = a (silu), z = 2 sqrt(2/pi) (a + 0.044715 a^3) (tanh GELU).
          const double z = act == GluAct::kSilu ? a : 1.5957691216057308 * (a + 0.044715 * a * a * a);
          const double sig = 1.0 / (1.0 + std::exp(-z));
          // silu' and the GELU's derivative are at most 1.13: sums each within e of their magnitude
          // move act(a) * b by at most e times this bound.
          const double bound = 1.2 * pg.mag[i] * std::fabs(b) + std::fabs(a * sig) * pu.mag[i] + 1e-30;
          worst = std::max(worst, std::isnan(y[i]) ? INFINITY : std::fabs(y[i] - a * sig * b) / bound);
        }
        EXPECT_LT(worst, 2e-5) << type_name(t) << " k=" << sh.k << " n=" << sh.n << " cols=" << cols
                               << (act == GluAct::kSilu ? " silu" : " gelu");
       }
      }
    }
  }
}

// Glu asks for gate and up of one shape, at most kMatvecGluMaxCols columns: anything else is an
// error, not a wrong product.
TEST(CudaMatvecGlu, RejectsMismatchedJobs) {
  QUARREL_SKIP_WITHOUT_GPU();
  std::mt19937_64 rng(test::test_seed());
  const HostMatrix g = random_matrix(rng, GgmlType::F16, 64, 10), u = random_matrix(rng, GgmlType::F16, 64, 12);
  const auto gb = to_device(g.bytes), ub = to_device(u.bytes);
  const auto xb = to_device(test::random_floats(rng, 64 * 3));
  auto yb = poisoned(12 * 3 * 4);
  const MatvecFuse glu{.glu = true};
  const MatvecJob jobs[2] = {{.w = dev(g, gb), .y = yb.get<float>(), .ldy = 12}, {.w = dev(u, ub), .y = yb.get<float>(), .ldy = 12}};
  EXPECT_THROW(matvec_jobs(jobs, 2, xb.get<float>(), 64, 1, nullptr, glu), Error);  // 10 rows and 12
  const MatvecJob same[2] = {jobs[0], {.w = dev(g, gb), .y = yb.get<float>(), .ldy = 12}};
  EXPECT_THROW(matvec_jobs(same, 2, xb.get<float>(), 64, kMatvecGluMaxCols + 1, nullptr, glu), Error);
  EXPECT_THROW(matvec_jobs(same, 1, xb.get<float>(), 64, 1, nullptr, glu), Error);
}

}  // namespace
}  // namespace quarrel::cuda
