// Decode matrix-vector products straight on the weight blocks. One block of W warps (W = 1..8,
// enough that every thread has at least one 32-element chunk of a row) computes R consecutive
// output rows: thread t takes chunks t, t + 32W, ... of the k dimension, loads that chunk of the
// activation columns once into registers and dots it with the same chunk of each of its R rows
// (R independent block loads in flight per thread); warp shuffles, then shared memory, add the
// partial sums of the W warps. R is the largest of 8, 4, 2, 1 (fewer with more columns) that
// leaves >= 1024 blocks, so every shape fills all SMs. A thread's first chunk of its rows is
// loaded before the PDL wait (the weights do not depend on the kernel before). With glu
// (MatvecFuse) a block's rows are R / 2 rows of gate and the same rows of up, and it stores
// act(gate) * up: SwiGLU or GeGLU without a launch of its own.
//
// Measured with gpu_cuda_matvec_bench (tests/gpu/cuda) against the copy bandwidth; see PERF_NOTES.
#include <algorithm>
#include <cstdlib>
#include <type_traits>

#include "backend/cuda/chunk_dot.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/env_knob.h"
#include "backend/cuda/glu_act.cuh"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_jobs.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kMaxWarps = 8;
constexpr int64_t kMinBlocks = 1024;

// Whether matvec.cu loads a thread's first chunk of its rows before the PDL wait (H200, 8B F16
// tg: 236.1 -> 245.0 tok/s; 1B 1045.8 -> 1087.7). matvec_q8's direct kernel does not: there it
// cost (8B Q4_K_M 501.5 -> 485.3, 1B 1806 -> 1771). QUARREL_CUDA_EARLY_LOADS=0 turns it off.
inline int early_loads_enabled() {
  static const int on = env_on("QUARREL_CUDA_EARLY_LOADS") ? 1 : 0;
  return on;
}

// Columns decoded together: 2 when C is even (x of both in registers), else 1.
template <int C>
constexpr int group_cols() {
  return C % 2 == 0 ? 2 : 1;
}

// The glu form's end (MatvecFuse::glu): the block's sums over its threads; the gate row's
// activation times the up row's (rows r and r + R / 2 of the block) stored to job 0's y.
template <int R, int C>
__device__ __forceinline__ void store_glu(const float (&acc)[R][C], const JobSet& js, int64_t r0) {
  __shared__ float part[kMaxWarps][R * C];
  float v[R * C];
#pragma unroll
  for (int i = 0; i < R * C; ++i) v[i] = acc[i / C][i % C];
  warp_partials<R * C, kMaxWarps>(v, part);
  constexpr int kPairs = R / 2;
  for (int i = threadIdx.x; i < kPairs * C; i += blockDim.x) {
    const int r = i / C, c = i % C;
    if (r0 + r >= js.n[0]) continue;
    const float g = block_total<R * C, kMaxWarps>(part, i), u = block_total<R * C, kMaxWarps>(part, i + kPairs * C);
    js.y[0][c * js.ldy[0] + r0 + r] = glu_gate(g, static_cast<GluAct>(js.glu - 1)) * u;  // glu()'s arithmetic
  }
}

template <uint32_t T, int C, int R>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_kernel(JobSet js, const float* __restrict__ x, int64_t ldx) {
  constexpr int G = group_cols<C>();
  const int j = job_of_block(js);
  const size_t row_bytes = js.row_bytes[j];
  const int64_t n = js.n[j], k = js.k;
  // The block's rows: R consecutive rows r0 + r of job j, or (glu) rows r0 .. r0 + R/2 of gate
  // (job 0) then the same rows of up (job 1).
  const bool glu = R > 1 && js.glu != 0;
  const int64_t r0 = static_cast<int64_t>(blockIdx.x - js.first_block[j]) * (glu ? R / 2 : R);
  const uint8_t* rows[R];
  bool valid[R];
#pragma unroll
  for (int r = 0; r < R; ++r) {
    const int64_t rr = glu ? r0 + r % (R / 2) : r0 + r;
    valid[r] = R == 1 || rr < n;
    rows[r] = (glu && r >= R / 2 ? js.w[1] : js.w[j]) + static_cast<size_t>(rr) * row_bytes;
  }
  const int64_t n_chunks = (k + 31) / 32;
  const bool vec_x = (ldx & 3) == 0 && (reinterpret_cast<uintptr_t>(x) & 15) == 0;
  const int lane = static_cast<int>(threadIdx.x & 31);
  // F16 and BF16 interleaved across the warp: its 32 chunks (1024 elements) are read as 16 bytes
  // per lane at 16 * lane + 512 i (i < 4), each load one contiguous 512 bytes of the row (not 32
  // loads 64 bytes apart): lane l holds elements 8 l + 256 i + e of them (e < 8), x alike.
  auto interleaved = [&](int64_t ch) {
    const int64_t warp_base = 32 * ch - 32 * lane;
    const uintptr_t w_bits = reinterpret_cast<uintptr_t>(js.w[j]) | (glu ? reinterpret_cast<uintptr_t>(js.w[1]) : 0);
    return (T == kDevF16 || T == kDevBF16) && vec_x && warp_base + 1024 <= k && (row_bytes & 15) == 0 && (w_bits & 15) == 0;
  };
  using Raw = typename ChunkDot<T>::Raw;
  auto load_rows = [&](int64_t ch, bool inter, Raw (&raw)[R]) {
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (!valid[r]) continue;
      if constexpr (T == kDevF16 || T == kDevBF16) {
        if (inter) {
          const uint4* h = reinterpret_cast<const uint4*>(rows[r] + 2 * (32 * ch - 32 * lane + 8 * lane));
#pragma unroll
          for (int i = 0; i < 4; ++i) raw[r].u[i] = ldg_stream(h + 32 * i);
          continue;
        }
      }
      raw[r] = ChunkDot<T>::load(rows[r], ch, k);
    }
  };
  // The 32 values of chunk ch of column p of x in the layout the weights' chunk has
  // (interleaved or plain), zero past k.
  auto gather = [&](const float* p, int64_t ch, bool inter, float (&d)[32]) {
    const int64_t base = 32 * ch;
    if (inter) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float4* v = reinterpret_cast<const float4*>(p + base - 32 * lane + 8 * lane + 256 * i);
        const float4 a = __ldg(v), b = __ldg(v + 1);
        d[8 * i] = a.x, d[8 * i + 1] = a.y, d[8 * i + 2] = a.z, d[8 * i + 3] = a.w;
        d[8 * i + 4] = b.x, d[8 * i + 5] = b.y, d[8 * i + 6] = b.z, d[8 * i + 7] = b.w;
      }
    } else if (vec_x && base + 32 <= k) {
      const float4* v = reinterpret_cast<const float4*>(p + base);
#pragma unroll
      for (int i = 0; i < 8; ++i) {
        const float4 f = __ldg(v + i);
        d[4 * i] = f.x, d[4 * i + 1] = f.y, d[4 * i + 2] = f.z, d[4 * i + 3] = f.w;
      }
    } else {
#pragma unroll
      for (int l = 0; l < 32; ++l) d[l] = base + l < k ? p[base + l] : 0.0f;
    }
  };
  using std::false_type, std::true_type;
  float acc[R][C];
  // One chunk of every column: x, then the rows' dots. preloaded: the rows' chunk is already in
  // pre (loaded before the PDL wait).
  Raw pre[R];
  auto chunk = [&](int64_t ch, auto preloaded) {
    const bool inter = interleaved(ch);
#pragma unroll
    for (int c0 = 0; c0 < C; c0 += G) {
      float xs[G][32];
      float xsum[G];
#pragma unroll
      for (int g = 0; g < G; ++g) gather(x + (c0 + g) * ldx, ch, inter, xs[g]);
      if constexpr (ChunkDot<T>::kNeedsXsum) {
#pragma unroll
        for (int g = 0; g < G; ++g) {
          float s = 0.0f;
#pragma unroll
          for (int l = 0; l < 32; ++l) s += xs[g][l];
          xsum[g] = s;
        }
      }
      Raw raw[R];
      if constexpr (decltype(preloaded)::value) {
        if (c0 == 0) {
#pragma unroll
          for (int r = 0; r < R; ++r) raw[r] = pre[r];
        } else {
          load_rows(ch, inter, raw);
        }
      } else {
        load_rows(ch, inter, raw);
      }
#pragma unroll
      for (int r = 0; r < R; ++r) {
        if (valid[r]) ChunkDot<T>::template dot<G>(raw[r], xs, xsum, &acc[r][c0]);
      }
    }
  };
  // The weights do not depend on the kernel before: a thread's first chunk of its rows is
  // loaded before the PDL wait, so it is in flight while that kernel finishes. One column only:
  // measured at batch 1, not with more columns, where the rows held across the wait sit beside
  // twice the activations.
  const bool early = C == 1 && js.early_loads && threadIdx.x < n_chunks;
  if (early) load_rows(threadIdx.x, interleaved(threadIdx.x), pre);
  start_rows<R, C>(js.w[j], row_bytes, r0, n, n_chunks, acc, !glu && blockIdx.x < js.prefetch_blocks);
  int64_t ch = threadIdx.x;
  if (early) {
    chunk(ch, true_type{});
    ch += blockDim.x;
  }
  for (; ch < n_chunks; ch += blockDim.x) chunk(ch, false_type{});
  if (glu) {
    store_glu<R, C>(acc, js, r0);
  } else {
    reduce_rows_and_store<R, C, kMaxWarps>(acc, js.y[j], js.ldy[j], r0, n, js.accumulate[j] != 0);
  }
}

// With glu (R even): blocks of R / 2 rows of gate (job 0) and the same of up (job 1).
template <uint32_t T, int C, int R>
void launch_r(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, const MatvecFuse& f, cudaStream_t s) {
  JobSet js = f.glu ? make_job_set<(R > 1 ? R / 2 : 1)>(jobs, 1) : make_job_set<R>(jobs, n_jobs);
  if (f.glu) {
    js.w[1] = static_cast<const uint8_t*>(jobs[1].w.data);
    js.row_bytes[1] = jobs[1].w.row_bytes;
    js.n[1] = jobs[1].w.n;
  }
  js.glu = f.glu ? 1 + static_cast<int>(f.act) : 0;
  js.early_loads = early_loads_enabled();
  const int64_t n_chunks = (js.k + 31) / 32;
  const int warps = static_cast<int>(std::min<int64_t>(kMaxWarps, std::max<int64_t>(1, n_chunks / 32)));
  launch(matvec_kernel<T, C, R>, js.first_block[kMaxMatvecJobs], warps * 32, 0, s, js, x, ldx);
}

// R: the largest the type and the column count allow that leaves kMinBlocks blocks over the jobs
// (at least 2 with glu: a gate row and its up row).
template <uint32_t T, int C>
void launch_c(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, const MatvecFuse& f, cudaStream_t s) {
  constexpr int kMaxRows = ChunkDot<T>::kMaxRows;
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  if constexpr (C == 1 && kMaxRows >= 8) {
    if (rows / 8 >= kMinBlocks) return launch_r<T, C, 8>(jobs, n_jobs, x, ldx, f, s);
  }
  if constexpr (C <= 2 && kMaxRows >= 4) {
    if (rows / 4 >= kMinBlocks) return launch_r<T, C, 4>(jobs, n_jobs, x, ldx, f, s);
  }
  if constexpr (C <= 2) {
    if (rows / 2 >= kMinBlocks || f.glu) return launch_r<T, C, 2>(jobs, n_jobs, x, ldx, f, s);
  }
  launch_r<T, C, 1>(jobs, n_jobs, x, ldx, f, s);
}

template <uint32_t T>
void launch(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, int n_cols, const MatvecFuse& f,
            cudaStream_t s) {
  switch (n_cols) {
#define QUARREL_MV_CASE(C) \
  case C: launch_c<T, C>(jobs, n_jobs, x, ldx, f, s); break;
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

void matvec_jobs(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, int n_cols, cudaStream_t s,
                 const MatvecFuse& fuse) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || n_jobs < 1) return;
  check_job_set(jobs, n_jobs, "matvec");
  if (fuse.glu && (n_jobs != 2 || jobs[0].w.n != jobs[1].w.n || jobs[0].accumulate || n_cols > kMatvecGluMaxCols)) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matvec: glu needs gate and up of one shape, {} columns at most",
                    kMatvecGluMaxCols);
  }
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  if (rows == 0) return;
  QUARREL_CUDA_DISPATCH_TYPE(jobs[0].w.type, (launch<T>(jobs, n_jobs, x, ldx, n_cols, fuse, s)));
  QUARREL_CUDA_CHECK_LAUNCH();
}

void matvec(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s,
            bool accumulate) {
  MatvecJob job;
  job.w = w;
  job.y = y;
  job.ldy = ldy;
  job.accumulate = accumulate;
  matvec_jobs(&job, 1, x, ldx, n_cols, s, {});
}

}  // namespace quarrel::cuda
