// gpu_cuda_matvec_bench: the decode matrix-vector kernels on Llama-3-8B's shapes, timed with CUDA
// events (20 back-to-back launches over copies of the weights that do not fit the L2 cache,
// median of 15), against the device's copy bandwidth. Per shape and
// type: microseconds, GB/s of weight bytes read (+ x and y), and that as a share of the copy
// bandwidth (read + written per second, cuda::measure_copy_bandwidth_gb_s). Weights are a byte
// pattern (0x11: small normal f16 scales); values do not change the time. No GPU: prints a line
// and exits 0. Usage: gpu_cuda_matvec_bench [n_cols (1) [SHAPE [TYPE]]] (SHAPE: part of a shape's name,
// e.g. down; TYPE: a type's name); gpu_cuda_matvec_bench mmq [TYPE [SHAPE]]: the
// tensor-core products of batches past the matvec's, matmul_q8 (int8 activations) and
// matmul_f16act (f16), at 16, 32 and 64 columns, also as tera-operations per second (2 k n
// columns per launch).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/device_rows.h"
#include "backend/cuda/kernels.h"

namespace {

using namespace quarrel::cuda;

struct Shape {
  const char* name;
  int64_t k, n;
};
struct NamedType {
  const char* name;
  uint32_t type;
};

// Median over 15 runs of 20 back-to-back launches (as a decode graph issues them), each run on
// the next of `w.size()` copies of the weights so that the L2 cache (50 MB) does not keep them.
template <typename Launch>
double median_us(std::vector<DevMatrix>& w, Launch launch, cudaStream_t s) {
  constexpr int kLaunches = 20;
  cudaEvent_t a, b;
  QUARREL_CUDA_CHECK(cudaEventCreate(&a));
  QUARREL_CUDA_CHECK(cudaEventCreate(&b));
  size_t next = 0;
  auto one = [&] {
    launch(w[next++ % w.size()]);
  };
  for (int i = 0; i < 5; ++i) one();
  std::vector<float> t;
  for (int i = 0; i < 15; ++i) {
    QUARREL_CUDA_CHECK(cudaEventRecord(a, s));
    for (int l = 0; l < kLaunches; ++l) one();
    QUARREL_CUDA_CHECK(cudaEventRecord(b, s));
    QUARREL_CUDA_CHECK(cudaEventSynchronize(b));
    float ms = 0;
    QUARREL_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms / kLaunches);
  }
  QUARREL_CUDA_CHECK(cudaEventDestroy(a));
  QUARREL_CUDA_CHECK(cudaEventDestroy(b));
  std::sort(t.begin(), t.end());
  return 1000.0 * t[t.size() / 2];
}

// Weight copies of a shape and type (>= 256 MB in all, so that the L2 cache does not keep them).
struct Copies {
  std::vector<DeviceBuffer> bufs;
  std::vector<DevMatrix> ms;
  size_t bytes_one = 0;
};
Copies weight_copies(uint32_t type, int64_t k, int64_t n) {
  Copies c;
  DevMatrix m;
  m.type = type;
  m.k = k;
  m.n = n;
  m.row_bytes = device_row_bytes(type, k);
  c.bytes_one = m.row_bytes * static_cast<size_t>(n);
  const size_t copies = std::max<size_t>(1, (size_t{256} << 20) / c.bytes_one);
  for (size_t i = 0; i < copies; ++i) {
    c.bufs.emplace_back(c.bytes_one);
    QUARREL_CUDA_CHECK(cudaMemset(c.bufs.back().get(), 0x11, c.bytes_one));
    m.data = c.bufs.back().get();
    c.ms.push_back(m);
  }
  return c;
}

int bench_matmul_q8(double copy_gb_s, cudaStream_t s, const std::string& only_type, const std::string& only_shape) {
  const Shape shapes[] = {{"q/o 4096x4096", 4096, 4096},
                          {"k/v 4096x1024", 4096, 1024},
                          {"gate/up 4096x14336", 4096, 14336},
                          {"down 14336x4096", 14336, 4096},
                          {"output 4096x128256", 4096, 128256}};
  const NamedType types[] = {{"Q4_0", kDevQ4_0}, {"Q8_0", kDevQ8_0},  {"Q4_K", kDevQ4_K},
                             {"Q5_K", kDevQ5_K}, {"Q6_K", kDevQ6_K}, {"IQ4_XS", kDevIQ4_XS}};
  const int max_cols = 64;
  DeviceBuffer y(static_cast<size_t>(128256) * max_cols * 4), scratch(size_t{8} << 20);
  DeviceBuffer xq_buf(q8_act_bytes(14336, max_cols)), xh_buf(static_cast<size_t>(14336) * max_cols * 2);
  QUARREL_CUDA_CHECK(cudaMemset(xq_buf.get(), 0, xq_buf.size()));
  QUARREL_CUDA_CHECK(cudaMemset(xh_buf.get(), 0, xh_buf.size()));
  std::printf("| shape | type | MB | columns | activations | us | GB/s of weights | %% of copy bw | TOPS |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& sh : shapes) {
    for (const auto& ty : types) {
      if ((!only_type.empty() && only_type != ty.name) || std::string(sh.name).find(only_shape) == std::string::npos) continue;
      Copies c = weight_copies(ty.type, sh.k, sh.n);
      for (const int cols : {16, 32, 64}) {
        for (const bool f16 : {false, true}) {
          const Q8Act xq = q8_act_at(xq_buf.get(), sh.k, cols);
          const double us = median_us(c.ms, [&](const DevMatrix& w) {
            if (f16) {
              matmul_f16act(w, xh_buf.get(), sh.k, cols, y.get<float>(), w.n, false, scratch.get<float>(),
                            scratch.size() / 4, s);
            } else {
              matmul_q8(w, xq, cols, y.get<float>(), w.n, false, scratch.get<float>(), scratch.size() / 4, s);
            }
          }, s);
          const double gb_s = static_cast<double>(c.bytes_one) / (us * 1e3);
          std::printf("| %s | %s | %.1f | %d | %s | %.1f | %.0f | %.1f%% | %.1f |\n", sh.name, ty.name,
                      c.bytes_one / 1e6, cols, f16 ? "f16" : "int8", us, gb_s, 100.0 * gb_s / copy_gb_s,
                      2.0 * sh.k * sh.n * cols / (us * 1e6));
        }
      }
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (device_count() == 0) {
    std::printf("gpu_cuda_matvec_bench: no CUDA device present, nothing measured\n");
    return 0;
  }
  const bool mmq = argc > 1 && std::string(argv[1]) == "mmq";
  const int cols = argc > 1 && !mmq ? std::atoi(argv[1]) : 1;
  if (cols < 1 || cols > kMatvecMaxCols) {
    std::fprintf(stderr, "gpu_cuda_matvec_bench: n_cols must be 1..%d\n", kMatvecMaxCols);
    return 2;
  }
  const DeviceInfo info = device_info(0);
  const double copy_gb_s = measure_copy_bandwidth_gb_s();
  std::printf("%s, %d SMs; copy bandwidth %.0f GB/s (read + written); %d column(s)\n", info.name.c_str(),
              info.multiprocessors, copy_gb_s, mmq ? 0 : cols);
  if (mmq) {
    cudaStream_t s;
    QUARREL_CUDA_CHECK(cudaStreamCreate(&s));
    const int rc = bench_matmul_q8(copy_gb_s, s, argc > 2 ? argv[2] : "", argc > 3 ? argv[3] : "");
    QUARREL_CUDA_CHECK(cudaStreamDestroy(s));
    return rc;
  }
  const Shape shapes[] = {{"q/o 4096x4096", 4096, 4096},
                          {"gate/up 4096x14336", 4096, 14336},
                          {"down 14336x4096", 14336, 4096},
                          {"output 4096x128256", 4096, 128256},
                          {"1B q/o 2048x2048", 2048, 2048},
                          {"1B k/v 2048x512", 2048, 512},
                          {"1B gate/up 2048x8192", 2048, 8192},
                          {"1B down 8192x2048", 8192, 2048},
                          {"1B output 2048x128256", 2048, 128256}};
  const NamedType types[] = {{"Q4_0", kDevQ4_0}, {"Q8_0", kDevQ8_0}, {"Q4_K", kDevQ4_K}, {"Q5_K", kDevQ5_K}, {"Q6_K", kDevQ6_K},
               {"IQ4_XS", kDevIQ4_XS}, {"F16", kDevF16}};
  cudaStream_t s;
  QUARREL_CUDA_CHECK(cudaStreamCreate(&s));
  DeviceBuffer x(static_cast<size_t>(14336) * kMatvecMaxCols * 4), y(static_cast<size_t>(128256) * kMatvecMaxCols * 4);
  QUARREL_CUDA_CHECK(cudaMemset(x.get(), 0, x.size()));
  DeviceBuffer xq_buf(q8_act_bytes(14336, kMatvecMaxCols));
  QUARREL_CUDA_CHECK(cudaMemset(xq_buf.get(), 0, xq_buf.size()));
  std::printf("| shape | type | MB | f32 x: us | GB/s | %% of copy bw | int8 x: us | GB/s | %% of copy bw | direct, rows 1 / 2 / 4: us | | | staged, rows 1 / 2 / 4: us | | |\n"
              "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  const std::string only_shape = argc > 2 ? argv[2] : "", only_type = argc > 3 ? argv[3] : "";
  for (const auto& sh : shapes) {
    for (const auto& ty : types) {
      if ((!only_type.empty() && only_type != ty.name) || std::string(sh.name).find(only_shape) == std::string::npos)
        continue;
      Copies c = weight_copies(ty.type, sh.k, sh.n);
      std::vector<DevMatrix>& ms = c.ms;
      const size_t bytes_one = c.bytes_one;
      const double us = median_us(ms, [&](const DevMatrix& w) {
        matvec(w, x.get<float>(), w.k, y.get<float>(), w.n, cols, s);
      }, s);
      const double bytes = static_cast<double>(bytes_one) + 4.0 * cols * static_cast<double>(sh.k + sh.n);
      const double gb_s = bytes / (us * 1e3);
      std::printf("| %s | %s | %.1f | %.1f | %.0f | %.1f%% |", sh.name, ty.name, bytes_one / 1e6, us, gb_s,
                  100.0 * gb_s / copy_gb_s);
      if (matvec_q8_supported(ty.type)) {
        const Q8Act xq = q8_act_at(xq_buf.get(), sh.k, cols);
        const double us8 = median_us(ms, [&](const DevMatrix& w) {
          const MatvecJob job{.w = w, .y = y.get<float>(), .ldy = w.n, .accumulate = false};
          matvec_q8(&job, 1, xq, cols, s);
        }, s);
        const double bytes8 = static_cast<double>(bytes_one) + cols * (1.125 * sh.k + 4.0 * sh.n);
        const double gb8 = bytes8 / (us8 * 1e3);
        std::printf(" %.1f | %.0f | %.1f%% |", us8, gb8, 100.0 * gb8 / copy_gb_s);
        for (const int staged : {0, 1}) {  // direct or staged loads, at most 1, 2 or 4 rows per block
          set_matvec_staging(staged);
          for (const int rows : {1, 2, 4}) {
            set_matvec_rows_cap(rows);
            const double us_r = median_us(ms, [&](const DevMatrix& w) {
              const MatvecJob job{.w = w, .y = y.get<float>(), .ldy = w.n, .accumulate = false};
              matvec_q8(&job, 1, xq, cols, s);
            }, s);
            std::printf(" %.1f |", us_r);
          }
        }
        set_matvec_staging(-1);
        set_matvec_rows_cap(0);
        std::printf("\n");
      } else {
        std::printf(" | | | | | | | | |\n");
      }
    }
  }
  QUARREL_CUDA_CHECK(cudaStreamDestroy(s));
  return 0;
}
