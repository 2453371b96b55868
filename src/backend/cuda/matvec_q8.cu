// Decode matrix-vector products on the quantized weight blocks with int8 activations (Q8Act):
// the integer products go four at a time through __dp4a and x is a quarter of the f32 bytes.
// Same shape of work as matvec.cu: a block of W warps computes R consecutive rows of one
// matrix; thread t takes units t, t + 32W, ... of k (a unit: one 32-element chunk, or two for
// Q4_K and Q6_K, chunk_dot_q8.cuh), loads the unit's x once for its R rows and issues the R
// weight loads before any arithmetic; warp shuffles, then shared memory, add
// the warps' partial sums. Up to three matrices of one type with the same x share a launch
// (q/k/v, gate/up; matvec_jobs.cuh). The epilogue can add into y (residuals).
#include <algorithm>
#include <cstdlib>

#include "backend/cuda/chunk_dot_q8.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_jobs.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kMaxWarps = 8;
constexpr int64_t kMinBlocks = 1024;
template <uint32_t T, int C, int R>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_q8_kernel(JobSet js, Q8Act x) {
  using Dot = ChunkDotQ8<T>;
  const int j = job_of_block(js);
  const uint8_t* __restrict__ w = js.w[j];
  const size_t row_bytes = js.row_bytes[j];
  const int64_t n = js.n[j], k = js.k;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x - js.first_block[j]) * R;
  constexpr int U = Dot::kChunks;
  const int64_t n_units = k / (32 * U), ld_ds = x.ldq / 32;
  float acc[R][C];
  start_rows<R, C>(w, row_bytes, r0, n, n_units, acc, blockIdx.x < js.prefetch_blocks);
  for (int64_t u = threadIdx.x; u < n_units; u += blockDim.x) {
    typename Dot::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (R == 1 || r0 + r < n) raw[r] = Dot::load(w + static_cast<size_t>(r0 + r) * row_bytes, u, k);
    }
#pragma unroll
    for (int c = 0; c < C; ++c) {
      int xi[U][8];
      float2 ds[U];
#pragma unroll
      for (int i = 0; i < U; ++i) {
        const int64_t ch = Dot::x_chunk(u, i);
        const uint4* xv = reinterpret_cast<const uint4*>(x.q + c * x.ldq + 32 * ch);
        const uint4 a = __ldg(xv), b = __ldg(xv + 1);
        xi[i][0] = static_cast<int>(a.x), xi[i][1] = static_cast<int>(a.y), xi[i][2] = static_cast<int>(a.z);
        xi[i][3] = static_cast<int>(a.w), xi[i][4] = static_cast<int>(b.x), xi[i][5] = static_cast<int>(b.y);
        xi[i][6] = static_cast<int>(b.z), xi[i][7] = static_cast<int>(b.w);
        ds[i] = __ldg(x.ds + c * ld_ds + ch);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (R == 1 || r0 + r < n) acc[r][c] += Dot::dot(raw[r], xi, ds);
      }
    }
  }
  reduce_rows_and_store<R, C, kMaxWarps>(acc, js.y[j], js.ldy[j], r0, n, js.accumulate[j] != 0);
}

// Rows per block: the most (up to the type's and the column count's limit, and
// matvec_rows_cap()) that still leaves kMinBlocks blocks over all the jobs.
template <uint32_t T, int C>
int rows_per_block(int64_t total_rows) {
  constexpr int kMaxRows = C == 1 ? ChunkDotQ8<T>::kMaxRows : (C <= 2 ? 4 : 2);
  for (int r = kMaxRows; r > 1; r /= 2) {
    if (r > matvec_rows_cap()) continue;
    if (total_rows / r >= kMinBlocks) return r;
  }
  return 1;
}

template <uint32_t T, int C, int R>
void launch_r(const MatvecJob* jobs, int n_jobs, const Q8Act& x, cudaStream_t s) {
  const JobSet js = make_job_set<R>(jobs, n_jobs);
  const unsigned blocks = js.first_block[kMaxMatvecJobs];
  const int64_t n_units = js.k / (32 * ChunkDotQ8<T>::kChunks);
  const int warps = static_cast<int>(std::min<int64_t>(kMaxWarps, std::max<int64_t>(1, n_units / 32)));
  launch(matvec_q8_kernel<T, C, R>, blocks, warps * 32, 0, s, js, x);
}

template <uint32_t T, int C>
void launch_c(const MatvecJob* jobs, int n_jobs, const Q8Act& x, cudaStream_t s) {
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  switch (rows_per_block<T, C>(rows)) {
    case 8: if constexpr (C == 1 && ChunkDotQ8<T>::kMaxRows >= 8) return launch_r<T, C, 8>(jobs, n_jobs, x, s); break;
    case 4: if constexpr (C <= 2 && ChunkDotQ8<T>::kMaxRows >= 4) return launch_r<T, C, 4>(jobs, n_jobs, x, s); break;
    case 2: return launch_r<T, C, 2>(jobs, n_jobs, x, s);
    default: break;
  }
  launch_r<T, C, 1>(jobs, n_jobs, x, s);
}

template <uint32_t T>
void launch(const MatvecJob* jobs, int n_jobs, const Q8Act& x, int n_cols, cudaStream_t s) {
  switch (n_cols) {
#define QUARREL_MVQ_CASE(C) \
  case C: launch_c<T, C>(jobs, n_jobs, x, s); break;
    QUARREL_MVQ_CASE(1) QUARREL_MVQ_CASE(2) QUARREL_MVQ_CASE(3) QUARREL_MVQ_CASE(4)
    QUARREL_MVQ_CASE(5) QUARREL_MVQ_CASE(6) QUARREL_MVQ_CASE(7) QUARREL_MVQ_CASE(8)
#undef QUARREL_MVQ_CASE
    default: break;
  }
}

}  // namespace

int matvec_rows_cap() {
  static const int cap = [] {
    const char* e = std::getenv("QUARREL_CUDA_MATVEC_ROWS");
    // 2 measured fastest on an H200 (PERF_NOTES.md: 8B Q4_K_M 380 vs 347 tok/s with 4).
    const int v = e ? std::atoi(e) : 2;
    return v == 1 || v == 2 || v == 4 || v == 8 ? v : 2;
  }();
  return cap;
}

bool matvec_q8_supported(uint32_t type) {
  return type == kDevQ4_0 || type == kDevQ8_0 || type == kDevQ4_K || type == kDevQ5_K || type == kDevQ6_K;
}

void matvec_q8(const MatvecJob* jobs, int n_jobs, const Q8Act& x, int n_cols, cudaStream_t s) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || n_jobs < 1) return;
  check_job_set(jobs, n_jobs, "matvec_q8");
  if (!matvec_q8_supported(jobs[0].w.type)) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matvec_q8: weight type {} has no int8 kernel", jobs[0].w.type);
  }
  switch (jobs[0].w.type) {
    case kDevQ4_0: launch<kDevQ4_0>(jobs, n_jobs, x, n_cols, s); break;
    case kDevQ8_0: launch<kDevQ8_0>(jobs, n_jobs, x, n_cols, s); break;
    case kDevQ4_K: launch<kDevQ4_K>(jobs, n_jobs, x, n_cols, s); break;
    case kDevQ5_K: launch<kDevQ5_K>(jobs, n_jobs, x, n_cols, s); break;
    case kDevQ6_K: launch<kDevQ6_K>(jobs, n_jobs, x, n_cols, s); break;
    default: break;
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
