#pragma once
// Several decode matvecs with the same input in one launch (q/k/v, gate/up): up to three
// matrices of one type and k, their blocks numbered one after another. Shared by the two decode
// matvec kernels (matvec.cu: f32 activations; matvec_q8.cu: int8).
#include <cstdint>

#include "backend/cuda/kernels.h"
#include "backend/cuda/matvec_epilogue.cuh"

namespace quarrel::cuda {

constexpr int kMaxMatvecJobs = 3;

struct JobSet {
  const uint8_t* w[kMaxMatvecJobs];
  size_t row_bytes[kMaxMatvecJobs];
  int64_t n[kMaxMatvecJobs];
  float* y[kMaxMatvecJobs];
  int64_t ldy[kMaxMatvecJobs];
  int accumulate[kMaxMatvecJobs];
  unsigned first_block[kMaxMatvecJobs + 1];  // job j owns blocks [first_block[j], first_block[j + 1])
  unsigned prefetch_blocks;                  // blocks below this prefetch their weights before the PDL wait
  int n_first;                               // matvec_q8 of two types: jobs [0, n_first) have the first
  int early_loads;                           // matvec.cu: a thread's first weights loaded before the PDL wait
  int glu;                                   // matvec.cu: jobs 0 and 1 (gate, up) paired (MatvecFuse::glu): 1 + act, else 0
  int64_t k;
};

// The JobSet of jobs[0, n_jobs) at R rows per block; its block count is first_block[kMaxMatvecJobs].
template <int R>
JobSet make_job_set(const MatvecJob* jobs, int n_jobs) {
  JobSet js{};
  js.k = jobs[0].w.k;
  unsigned blocks = 0;
  for (int i = 0; i < kMaxMatvecJobs; ++i) {
    js.first_block[i] = blocks;
    if (i < n_jobs) {
      const MatvecJob& jb = jobs[i];
      js.w[i] = static_cast<const uint8_t*>(jb.w.data);
      js.row_bytes[i] = jb.w.row_bytes;
      js.n[i] = jb.w.n;
      js.y[i] = jb.y;
      js.ldy[i] = jb.ldy;
      js.accumulate[i] = jb.accumulate ? 1 : 0;
      blocks += static_cast<unsigned>((jb.w.n + R - 1) / R);
    }
  }
  js.first_block[kMaxMatvecJobs] = blocks;
  js.prefetch_blocks = prefetch_block_limit();
  return js;
}

// The job this block works on.
__device__ __forceinline__ int job_of_block(const JobSet& js) {
  int j = 0;
#pragma unroll
  for (int i = 1; i < kMaxMatvecJobs; ++i) j += blockIdx.x >= js.first_block[i] ? 1 : 0;
  return j;
}

// Error(kInternal) unless 1 <= n_jobs <= 3 jobs share jobs[0]'s type and k.
void check_job_set(const MatvecJob* jobs, int n_jobs, const char* who);

}  // namespace quarrel::cuda
