// Decode matrix-vector products straight on the weight blocks. One block of W warps (W = 1..8,
// enough that every thread has at least one 32-element chunk of a row) computes R consecutive
// output rows: thread t takes chunks t, t + 32W, ... of the k dimension, loads that chunk of the
// activation columns once into registers and dots it with the same chunk of each of its R rows
// (R independent block loads in flight per thread); warp shuffles, then shared memory, add the
// partial sums of the W warps. R is the largest of 8, 4, 2, 1 (fewer with more columns) that
// leaves >= 1024 blocks, so every shape fills all SMs.
//
// Measured with gpu_cuda_matvec_bench (tests/gpu/cuda) against the copy bandwidth; see PERF_NOTES.
#include <algorithm>

#include "backend/cuda/chunk_dot.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_jobs.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kMaxWarps = 8;
constexpr int64_t kMinBlocks = 1024;

// Columns decoded together: 2 when C is even (x of both in registers), else 1.
template <int C>
constexpr int group_cols() {
  return C % 2 == 0 ? 2 : 1;
}

template <uint32_t T, int C, int R>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_kernel(JobSet js, const float* __restrict__ x, int64_t ldx) {
  constexpr int G = group_cols<C>();
  const int j = job_of_block(js);
  const uint8_t* __restrict__ w = js.w[j];
  const size_t row_bytes = js.row_bytes[j];
  const int64_t n = js.n[j], k = js.k;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x - js.first_block[j]) * R;
  const int64_t n_chunks = (k + 31) / 32;
  float acc[R][C];
  start_rows<R, C>(w, row_bytes, r0, n, n_chunks, acc, blockIdx.x < js.prefetch_blocks);
  const bool vec_x = (ldx & 3) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
  const int lane = static_cast<int>(threadIdx.x & 31);
  for (int64_t ch = threadIdx.x; ch < n_chunks; ch += blockDim.x) {
    const int64_t base = 32 * ch;
    // F16 interleaved across the warp: its 32 chunks (1024 elements) are read as 16 bytes per lane
    // at 16 * lane + 512 i (i < 4), each load one contiguous 512 bytes of the row (not 32 loads
    // 64 bytes apart): lane l holds elements 8 l + 256 i + e of them (e < 8), x alike.
    const int64_t warp_base = base - 32 * lane;
    const bool interleave = T == kDevF16 && vec_x && warp_base + 1024 <= k && (row_bytes & 15) == 0 &&
                            (reinterpret_cast<uintptr_t>(w) & 15) == 0;
#pragma unroll
    for (int c0 = 0; c0 < C; c0 += G) {
      float xs[G][32];
      float xsum[G];
      if (interleave) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            const float4* xv = reinterpret_cast<const float4*>(x + (c0 + g) * ldx + warp_base + 8 * lane + 256 * i);
            const float4 a = __ldg(xv), b = __ldg(xv + 1);
            xs[g][8 * i] = a.x, xs[g][8 * i + 1] = a.y, xs[g][8 * i + 2] = a.z, xs[g][8 * i + 3] = a.w;
            xs[g][8 * i + 4] = b.x, xs[g][8 * i + 5] = b.y, xs[g][8 * i + 6] = b.z, xs[g][8 * i + 7] = b.w;
          }
        }
      } else if (vec_x && base + 32 <= k) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          const float4* xv = reinterpret_cast<const float4*>(x + (c0 + g) * ldx + base);
#pragma unroll
          for (int i = 0; i < 8; ++i) {
            const float4 f = __ldg(xv + i);
            xs[g][4 * i] = f.x, xs[g][4 * i + 1] = f.y, xs[g][4 * i + 2] = f.z, xs[g][4 * i + 3] = f.w;
          }
        }
      } else {
#pragma unroll
        for (int g = 0; g < G; ++g) {
#pragma unroll
          for (int l = 0; l < 32; ++l) xs[g][l] = base + l < k ? x[(c0 + g) * ldx + base + l] : 0.0f;
        }
      }
      if constexpr (ChunkDot<T>::kNeedsXsum) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          float s = 0.0f;
#pragma unroll
          for (int l = 0; l < 32; ++l) s += xs[g][l];
          xsum[g] = s;
        }
      }
      typename ChunkDot<T>::Raw raw[R];
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (R != 1 && r0 + r >= n) continue;
        const uint8_t* row = w + static_cast<size_t>(r0 + r) * row_bytes;
        if constexpr (T == kDevF16) {
          if (interleave) {
            const uint4* h = reinterpret_cast<const uint4*>(row + 2 * (warp_base + 8 * lane));
#pragma unroll
            for (int i = 0; i < 4; ++i) raw[r].u[i] = __ldg(h + 32 * i);
            continue;
          }
        }
        raw[r] = ChunkDot<T>::load(row, ch, k);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (R == 1 || r0 + r < n) ChunkDot<T>::template dot<G>(raw[r], xs, xsum, &acc[r][c0]);
      }
    }
  }
  reduce_rows_and_store<R, C, kMaxWarps>(acc, js.y[j], js.ldy[j], r0, n, js.accumulate[j] != 0);
}

template <uint32_t T, int C, int R>
void launch_r(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, cudaStream_t s) {
  const JobSet js = make_job_set<R>(jobs, n_jobs);
  const int64_t n_chunks = (js.k + 31) / 32;
  const int warps = static_cast<int>(std::min<int64_t>(kMaxWarps, std::max<int64_t>(1, n_chunks / 32)));
  launch(matvec_kernel<T, C, R>, js.first_block[kMaxMatvecJobs], warps * 32, 0, s, js, x, ldx);
}

// R: the largest the type and the column count allow that leaves kMinBlocks blocks over the jobs.
template <uint32_t T, int C>
void launch_c(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, cudaStream_t s) {
  constexpr int kMaxRows = ChunkDot<T>::kMaxRows;
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  if constexpr (C == 1 && kMaxRows >= 8) {
    if (rows / 8 >= kMinBlocks) return launch_r<T, C, 8>(jobs, n_jobs, x, ldx, s);
  }
  if constexpr (C <= 2 && kMaxRows >= 4) {
    if (rows / 4 >= kMinBlocks) return launch_r<T, C, 4>(jobs, n_jobs, x, ldx, s);
  }
  if constexpr (C <= 2) {
    if (rows / 2 >= kMinBlocks) return launch_r<T, C, 2>(jobs, n_jobs, x, ldx, s);
  }
  launch_r<T, C, 1>(jobs, n_jobs, x, ldx, s);
}

template <uint32_t T>
void launch(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, int n_cols, cudaStream_t s) {
  switch (n_cols) {
#define QUARREL_MV_CASE(C) \
  case C: launch_c<T, C>(jobs, n_jobs, x, ldx, s); break;
    QUARREL_MV_CASE(1) QUARREL_MV_CASE(2) QUARREL_MV_CASE(3) QUARREL_MV_CASE(4)
    QUARREL_MV_CASE(5) QUARREL_MV_CASE(6) QUARREL_MV_CASE(7) QUARREL_MV_CASE(8)
#undef QUARREL_MV_CASE
    default: break;
  }
}

}  // namespace

void check_job_set(const MatvecJob* jobs, int n_jobs, const char* who) {
  if (n_jobs < 1 || n_jobs > kMaxMatvecJobs) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "{}: {} jobs (1 to 3)", who, n_jobs);
  for (int i = 0; i < n_jobs; ++i) {
    if (jobs[i].w.type != jobs[0].w.type || jobs[i].w.k != jobs[0].w.k) {
      ::quarrel::fail(::quarrel::ErrorCode::kInternal, "{}: job {} has type {} and k {} (job 0: {}, {})", who, i,
                      jobs[i].w.type, jobs[i].w.k, jobs[0].w.type, jobs[0].w.k);
    }
  }
}

void matvec_jobs(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, int n_cols, cudaStream_t s) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || n_jobs < 1) return;
  check_job_set(jobs, n_jobs, "matvec");
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  if (rows == 0) return;
  QUARREL_CUDA_DISPATCH_TYPE(jobs[0].w.type, (launch<T>(jobs, n_jobs, x, ldx, n_cols, s)));
  QUARREL_CUDA_CHECK_LAUNCH();
}

void matvec(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s,
            bool accumulate) {
  MatvecJob job;
  job.w = w;
  job.y = y;
  job.ldy = ldy;
  job.accumulate = accumulate;
  matvec_jobs(&job, 1, x, ldx, n_cols, s);
}

}  // namespace quarrel::cuda
