// Decode matrix-vector products on the quantized weight blocks with int8 activations (Q8Act):
// the integer products go four at a time through __dp4a and x is a quarter of the f32 bytes.
// Same shape of work as matvec.cu: a block of W warps computes R consecutive rows of one
// matrix; thread t takes units t, t + 32W, ... of k (a unit: one 32-element chunk, or two for
// Q4_K and Q6_K, chunk_dot_q8.cuh), loads the unit's x once for its R rows and issues the R
// weight loads before any arithmetic; warp shuffles, then shared memory, add
// the warps' partial sums. Up to three matrices of one type with the same x share a launch
// (q/k/v, gate/up; matvec_jobs.cuh). The epilogue can add into y (residuals). Launches of at most
// one unit a thread (k = 4096 for the two-chunk types) take a loop-free kernel with fewer
// registers where the plan says so, and where it says so (the o projection of Q4_0 and Q8_0), a
// thread's one unit of weights is loaded before the PDL wait (matvec_q8_block_one_unit).
#include <algorithm>
#include <cstdlib>
#include <type_traits>

#include "backend/cuda/chunk_dot_q8.cuh"
#include "backend/cuda/cp_async.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/env_knob.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/matvec_jobs.cuh"

namespace quarrel::cuda {
namespace {

constexpr int kMaxWarps = 8;
constexpr int64_t kMinBlocks = 1024;
constexpr size_t kMaxStageBytes = 48 * 1024;  // the staged kernel's rows, in shared memory

// A block's share of job j at R rows per block: rows r0 .. r0 + R - 1 (those below n) of the
// job's matrix, each row_bytes long and made of n_units units of Dot.
struct BlockRows {
  const uint8_t* w;     // the job's matrix
  const uint8_t* rows;  // row r0
  size_t row_bytes;
  int64_t n, k, r0, n_units;
};
template <typename Dot, int R>
__device__ __forceinline__ BlockRows block_rows(const JobSet& js, int j) {
  BlockRows b;
  b.w = js.w[j];
  b.row_bytes = js.row_bytes[j];
  b.n = js.n[j], b.k = js.k;
  b.r0 = static_cast<int64_t>(blockIdx.x - js.first_block[j]) * R;
  b.n_units = js.k / (32 * Dot::kChunks);
  b.rows = b.w + static_cast<size_t>(b.r0) * b.row_bytes;
  return b;
}

// Unit u of a block's R rows (row r at rows + r * row_bytes; rows past n are not read), from shared
// memory if kStaged.
template <typename Dot, int R, bool kStaged>
__device__ __forceinline__ void load_unit_rows(const uint8_t* rows, size_t row_bytes, int64_t u, int64_t k, int64_t r0,
                                               int64_t n, typename Dot::Raw (&raw)[R]) {
#pragma unroll
  for (int r = 0; r < R; ++r) {
    if (R == 1 || r0 + r < n) raw[r] = Dot::template load<kStaged>(rows + static_cast<size_t>(r) * row_bytes, u, k);
  }
}

// acc[r][c] += row r's unit u (raw[r]) . column c's chunks of that unit, the x chunks loaded once
// for the R rows.
template <typename Dot, int R, int C>
__device__ __forceinline__ void add_unit_dots(const typename Dot::Raw (&raw)[R], const Q8Act& x, int64_t u, int64_t r0,
                                              int64_t n, float (&acc)[R][C]) {
  constexpr int U = Dot::kChunks;
  const int64_t ld_ds = x.ldq / 32;
#pragma unroll
  for (int c = 0; c < C; ++c) {
    int xi[U][8];
    float2 ds[U];
#pragma unroll
    for (int i = 0; i < U; ++i) load_x_chunk<Dot>(x.q + c * x.ldq, x.ds + c * ld_ds, Dot::x_chunk(u, i), xi[i], ds[i]);
    const auto x_sums = x_sums_for<Dot>(xi);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (R == 1 || r0 + r < n) acc[r][c] += dot_for<Dot>(raw[r], xi, ds, x_sums);
    }
  }
}

// Block's share of job j: R rows of one type T. kStaged: the block's R rows (contiguous bytes) are first copied into shared memory with
// coalesced 16-byte cp.async copies, issued before the PDL wait (weights do not depend on the
// kernel before), and the units are read from there. Without it each thread reads its units
// straight from global memory: a warp's loads then touch as many lines as it has super-blocks.
template <uint32_t T, int C, int R, bool kStaged>
__device__ __forceinline__ void matvec_q8_block(const JobSet& js, const Q8Act& x, int j) {
  using Dot = ChunkDotQ8<T>;
  extern __shared__ uint4 stage_smem[];
  const BlockRows b = block_rows<Dot, R>(js, j);
  const uint8_t* __restrict__ w = b.w;
  const size_t row_bytes = b.row_bytes;
  const int64_t n = b.n, k = b.k, r0 = b.r0, n_units = b.n_units;
  const uint8_t* rows = b.rows;
  if constexpr (kStaged) {
    const size_t bytes = static_cast<size_t>(min(static_cast<int64_t>(R), n - r0)) * row_bytes;
    uint8_t* st = reinterpret_cast<uint8_t*>(stage_smem);
    for (size_t o = 16 * threadIdx.x; o < bytes; o += 16 * blockDim.x) cp_async16(st + o, rows + o);
    cp_async_commit();
    rows = st;
  }
  float acc[R][C];
  start_rows<R, C>(w, row_bytes, r0, n, n_units, acc, !kStaged && blockIdx.x < js.prefetch_blocks);
  if constexpr (kStaged) {
    cp_async_wait_all();
    __syncthreads();
  }
  for (int64_t u = threadIdx.x; u < n_units; u += blockDim.x) {
    typename Dot::Raw raw[R];
    load_unit_rows<Dot, R, kStaged>(rows, row_bytes, u, k, r0, n, raw);
    add_unit_dots<Dot, R, C>(raw, x, u, r0, n, acc);
  }
  reduce_rows_and_store<R, C, kMaxWarps>(acc, js.y[j], js.ldy[j], r0, n, js.accumulate[j] != 0);
}

// matvec_q8_block for launches where a thread has at most one unit (n_units <= blockDim.x), direct
// reads. One unit and no loop take fewer registers than matvec_q8_block (4 rows: Q4_0 64 -> 56,
// Q8_0 64 -> 53, Q4_K 111 -> 80; Q6_K 2 rows 72 -> 55), so more blocks are resident. kEarly: the
// thread's weights are loaded before the PDL wait, so their DRAM latency overlaps the kernel
// before, which for the o projection is attention (little traffic of its own); where that runs
// is the plan's `early` (plan_for).
template <uint32_t T, int R, bool kEarly>
__device__ __forceinline__ void matvec_q8_block_one_unit(const JobSet& js, const Q8Act& x, int j) {
  using Dot = ChunkDotQ8<T>;
  const BlockRows b = block_rows<Dot, R>(js, j);
  const int64_t u = threadIdx.x;
  const bool has_unit = u < b.n_units;
  typename Dot::Raw raw[R];
  float acc[R][1];
  if (kEarly && has_unit) load_unit_rows<Dot, R, false>(b.rows, b.row_bytes, u, b.k, b.r0, b.n, raw);
  start_rows<R, 1>(b.w, b.row_bytes, b.r0, b.n, b.n_units, acc,
                   !kEarly && blockIdx.x < js.prefetch_blocks);  // PDL wait
  if (!kEarly && has_unit) load_unit_rows<Dot, R, false>(b.rows, b.row_bytes, u, b.k, b.r0, b.n, raw);
  if (has_unit) add_unit_dots<Dot, R, 1>(raw, x, u, b.r0, b.n, acc);
  reduce_rows_and_store<R, 1, kMaxWarps>(acc, js.y[j], js.ldy[j], b.r0, b.n, js.accumulate[j] != 0);
}

// Jobs [0, js.n_first) have type TA, the rest TB (TA == TB: one type).
template <uint32_t TA, uint32_t TB, int R, bool kEarly>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_q8_kernel_one_unit(JobSet js, Q8Act x) {
  const int j = job_of_block(js);
  if constexpr (TA == TB) {
    matvec_q8_block_one_unit<TA, R, kEarly>(js, x, j);
  } else if (j < js.n_first) {
    matvec_q8_block_one_unit<TA, R, kEarly>(js, x, j);
  } else {
    matvec_q8_block_one_unit<TB, R, kEarly>(js, x, j);
  }
}

// Jobs [0, js.n_first) have type TA (staged if SA), the rest TB (SB); TA == TB: one type.
template <uint32_t TA, uint32_t TB, int C, int R, bool SA, bool SB>
__global__ void __launch_bounds__(kMaxWarps * 32) matvec_q8_kernel(JobSet js, Q8Act x) {
  const int j = job_of_block(js);
  if constexpr (TA == TB) {
    matvec_q8_block<TA, C, R, SA>(js, x, j);
  } else if (j < js.n_first) {
    matvec_q8_block<TA, C, R, SA>(js, x, j);
  } else {
    matvec_q8_block<TB, C, R, SB>(js, x, j);
  }
}

// Q4_0 alone is compiled for 3 blocks of 8 warps per SM: ptxas then gives its kernels more
// registers (4 rows: 48 -> 64, no spills), i.e. more loads in flight. `scripts/gpu-ab MODEL "-p 0"`
// on an H200, alternating twice: 8B Q4_0 619.0 / 622.2 -> 628.2 / 628.1 tok/s, 1B Q4_0 2017.3 /
// 2014.4 -> 2064.0 / 2065.5. Not for the others: a minimum (even of 1 block) raises the K-quant
// kernels' registers (Q4_K 2 rows 64 -> 80, Q6_K 73 -> 92: 8B Q4_K_M 550 -> 527 tok/s) and Q8_0
// lost (425 -> 421).
template <int C, int R, bool S>
__global__ void __launch_bounds__(kMaxWarps * 32, 3) matvec_q8_kernel_q4_0(JobSet js, Q8Act x) {
  matvec_q8_block<kDevQ4_0, C, R, S>(js, x, job_of_block(js));
}

template <int R, bool kEarly>
__global__ void __launch_bounds__(kMaxWarps * 32, 3) matvec_q8_kernel_q4_0_one_unit(JobSet js, Q8Act x) {
  matvec_q8_block_one_unit<kDevQ4_0, R, kEarly>(js, x, job_of_block(js));
}

// How a launch runs: at most max_rows rows and max_warps warps per block, weights staged in
// shared memory or not.
struct Plan {
  int max_rows;
  bool staged;
  int max_warps = kMaxWarps;
  bool early = false;     // launches whose jobs all accumulate: one unit's weights loaded before the PDL wait
  bool one_unit = false;  // launches of at most one unit a thread, direct: matvec_q8_block_one_unit
  int64_t min_blocks = kMinBlocks;  // rows per block shrink until the launch has this many blocks
};
int g_rows_override = 0;     // set_matvec_rows_cap (0: none)
int g_staged_override = -1;  // set_matvec_staging (-1: none)
int g_early_override = -1;   // set_matvec_early_loads (-1: none)
int g_one_unit_override = -1;  // set_matvec_one_unit (-1: none)

// Units of type T in a row of k elements; the same for a type known only at run time.
template <uint32_t T>
int64_t units_per_row(int64_t k) {
  return k / (32 * ChunkDotQ8<T>::kChunks);
}
int64_t units_per_row(uint32_t type, int64_t k) {
  switch (type) {
    case kDevQ4_0: return units_per_row<kDevQ4_0>(k);
    case kDevQ8_0: return units_per_row<kDevQ8_0>(k);
    case kDevQ4_K: return units_per_row<kDevQ4_K>(k);
    case kDevQ5_K: return units_per_row<kDevQ5_K>(k);
    case kDevQ6_K: return units_per_row<kDevQ6_K>(k);
    default: return units_per_row<kDevIQ4_XS>(k);
  }
}

// Measured per type on an H200 (`gpu_cuda_matvec_bench`, PERF_NOTES.md):
// - Q6_K, 4 rows unless the matrix is large with long rows (short rows: a block per 2 rows is
//   one warp, and 64k of them take 79 us for the 1B's 2048 x 128256 output whatever the type; 4
//   rows: 62 us). Its GGUF super-blocks (2-byte aligned) were read best staged; on split rows
//   (device_rows.h) it is read directly where k > 2048 (8B Q4_K_M `-p 0` 536.6 -> 545.4 tok/s)
//   and still staged at k <= 2048 (the 1B direct everywhere: 1893 -> 1865);
// - Q4_K best direct, 4 rows for large matrices (gate/up 10.7 -> 10.0 us, output 79 -> 69 us),
//   2 for the rest; Q5_K and IQ4_XS (the same units of 32 nibble bytes) are planned alike;
// - Q8_0 and Q4_0 with 4 rows (session 6, in the model: 8B Q8_0 382 -> 390, Q4_0 524 -> 539),
//   read directly since their rows are split for the device (device_rows.h: aligned 16-byte
//   loads). Before the split, staging had been best for them (8B Q8_0 371 -> 381 tok/s, Q4_0
//   516 -> 526); with it, 8B `-p 0`: Q4_0 staged 570 / direct 589, Q8_0 402 / 407 (GGUF rows
//   staged: 540 and 388). 8 or 2 rows: Q4_0 524 / 540, Q8_0 376 / 404.
// - weights loaded before the PDL wait (`early`) for Q4_0 and Q8_0, in launches whose jobs all
//   add into their outputs (the o projection, after attention) with one unit a thread. H200,
//   `scripts/gpu-ab MODEL "-p 0"`, off / on, alternating twice: 8B Q4_0 634.9 / 635.6 -> 642.2 /
//   642.0 tok/s, Q8_0 427.3 / 427.5 -> 436.4 / 436.4, 1B Q4_0 2118.3 / 2117.4 -> 2133.8 / 2133.4.
//   Not for the two-chunk types: 8B Q4_K_M 570.3 / 570.1 -> 569.6 / 568.7, IQ4_XS 529.6 / 530.2
//   -> 521.6 / 521.1; nor for every one-unit launch (q/k/v, gate/up, output after a norm too):
//   8B Q4_0 625.9 / 624.8, Q4_K_M 566.6 / 567.8, 1B Q4_K_M 1967.2 / 1954.4 -> 1901.4 / 1902.9.
// - the loop-free kernel (`one_unit`) for the two-chunk types (Q4_K, Q5_K, IQ4_XS, Q6_K) in
//   launches of at most one unit a thread (k = 4096: q/k/v, o, gate/up, output). Q4_K 4 rows
//   take 80 registers there against 111 (24 warps an SM against 18), Q6_K 2 rows 55 against 72.
//   H200, `scripts/gpu-ab MODEL "-p 0"`, off / on, alternating twice, tg128 tok/s: 8B Q4_K_M
//   569.1 / 569.9 -> 577.0 / 577.1 (without Q6_K's: 576.0 / 575.8), IQ4_XS 526.8 / 528.8 -> 532.0
//   / 529.6, Q5_K_M 494.6 / 494.2 -> 496.9 / 498.3; 1B Q4_K_M 1968.4 / 1967.4 -> 1961.2 / 1962.0.
//   Not for Q8_0 (8B 439.1 / 437.4 -> 420.3 / 420.3) nor Q4_0 (641.2 / 641.8 -> 638.8 / 642.3).
//   With it, 4 or 8 rows for the k = 4096 matrices lose (8B Q4_K_M 575.5 / 576.4 with the plan,
//   574.5 / 574.2 with 4, 553.1 / 551.1 with 8; IQ4_XS 531.9 -> 516.0 with 4).
// QUARREL_CUDA_MATVEC_ROWS (1, 2, 4, 8), QUARREL_CUDA_MATVEC_WARPS (1..8),
// QUARREL_CUDA_MATVEC_STAGE (0, 1), QUARREL_CUDA_MATVEC_EARLY (0, 1) and
// QUARREL_CUDA_MATVEC_ONE_UNIT (0, 1) override it, and set_matvec_rows_cap / set_matvec_staging /
// set_matvec_early_loads / set_matvec_one_unit override those. QUARREL_CUDA_MATVEC_LONG_ROWS (1, 2,
// 4, 8: exactly that many, however few blocks remain) and QUARREL_CUDA_MATVEC_LONG_WARPS (1..8) apply
// to long rows alone (more units than the plan's warps have threads: down).
Plan plan_for(uint32_t type, int64_t total_rows, int64_t k, int cols) {
  static const int env_rows = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_ROWS", 0);
    return v == 1 || v == 2 || v == 4 || v == 8 ? static_cast<int>(v) : 0;
  }();
  static const int env_staged = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_STAGE", -1);
    return v < 0 ? -1 : (v != 0 ? 1 : 0);
  }();
  static const int env_warps = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_WARPS", 0);
    return v >= 1 && v <= kMaxWarps ? static_cast<int>(v) : 0;
  }();
  static const int env_early = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_EARLY", -1);
    return v < 0 ? -1 : (v != 0 ? 1 : 0);
  }();
  static const int env_one_unit = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_ONE_UNIT", -1);
    return v < 0 ? -1 : (v != 0 ? 1 : 0);
  }();
  static const int env_long_rows = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_LONG_ROWS", 0);
    return v == 1 || v == 2 || v == 4 || v == 8 ? static_cast<int>(v) : 0;
  }();
  static const int env_long_warps = [] {
    const int64_t v = env_int("QUARREL_CUDA_MATVEC_LONG_WARPS", 0);
    return v >= 1 && v <= kMaxWarps ? static_cast<int>(v) : 0;
  }();
  const bool large = total_rows >= 8192;
  Plan p{2, false};
  if (type == kDevQ6_K) p = {large && k > 2048 ? 2 : 4, k <= 2048};
  const bool pair_units = type == kDevQ4_K || type == kDevQ5_K || type == kDevIQ4_XS;  // SubBlockPairQ8
  if (pair_units) p = {large ? 4 : 2, false};
  if (type == kDevQ8_0 || type == kDevQ4_0) p = {4, false};
  p.early = type == kDevQ8_0 || type == kDevQ4_0;
  p.one_unit = pair_units || type == kDevQ6_K;
  // Fewer warps than 8, so more blocks are resident and a thread takes several units of long
  // rows (down). Q4_0: 4 (8B `-p 0` 600 -> 608 tok/s; staged it had lost, 526 -> 511); Q8_0
  // either way (404.7 / 405.6), kept at 8. Q4_K and Q6_K: 4 on GGUF rows (8B down Q4_K 11.7 ->
  // 11.2 us, Q6_K 19.7 -> 18.0), 2 on split rows (8B Q4_K_M `-p 0` 545.2-545.6 -> 548.5-550.0,
  // 1B 1880-1892 -> 1936-1948, alternating three times each; 1 warp: 8B 533.0).
  // Long rows of Q5_K and IQ4_XS (down) take 4 warps: `gpu_cuda_matvec_bench 1 down` on an H200,
  // 2 / 4 warps: Q5_K 14.2 / 12.4 us, IQ4_XS 11.6 / 10.9 (Q4_K 10.1 / 10.2, Q6_K 15.2 / 15.7).
  const int64_t units = units_per_row(type, k);
  if (type == kDevQ4_0) p.max_warps = 4;
  if (pair_units || type == kDevQ6_K) p.max_warps = 2;
  if ((type == kDevQ5_K || type == kDevIQ4_XS) && units > 32 * p.max_warps) p.max_warps = 4;
  // Short rows (a unit a thread or less) of Q5_K and IQ4_XS in matrices that are not large (q/k/v,
  // o), one column: staged, 4 rows. `gpu_cuda_matvec_bench 1` on an H200, 4096 x 4096, plan /
  // staged 4 rows: Q5_K 5.5 / 5.1 us, IQ4_XS 5.6 / 4.9 (Q4_K 4.3 / 4.4, Q6_K 6.9 / 5.5).
  if ((type == kDevQ5_K || type == kDevIQ4_XS) && !large && cols == 1 && units <= 32 * p.max_warps) {
    p.max_rows = 4, p.staged = true;
  }
  if (env_rows) p.max_rows = env_rows;
  if (env_warps) p.max_warps = env_warps;
  if (units > 32 * p.max_warps) {
    if (env_long_warps) p.max_warps = env_long_warps;
    if (env_long_rows) p.max_rows = env_long_rows, p.min_blocks = 1;
  }
  if (g_rows_override) p.max_rows = g_rows_override;
  if (env_staged >= 0) p.staged = env_staged != 0;
  if (g_staged_override >= 0) p.staged = g_staged_override != 0;
  if (env_early >= 0) p.early = env_early != 0;
  if (g_early_override >= 0) p.early = g_early_override != 0;
  if (env_one_unit >= 0) p.one_unit = env_one_unit != 0;
  if (g_one_unit_override >= 0) p.one_unit = g_one_unit_override != 0;
  return p;
}

// Rows per block: the most (up to the type's and the column count's limit, and the plan's) that
// still leaves kMinBlocks blocks over all the jobs.
template <uint32_t T, int C>
int rows_per_block(int64_t total_rows, int max_rows, int64_t min_blocks = kMinBlocks) {
  constexpr int kMaxRows = C == 1 ? ChunkDotQ8<T>::kMaxRows : (C <= 2 ? 4 : 2);
  for (int r = kMaxRows; r > 1; r /= 2) {
    if (r > max_rows) continue;
    if (total_rows / r >= min_blocks) return r;
  }
  return 1;
}

// Warps per block: enough that every thread has a unit, at most max_warps.
int block_warps(int64_t n_units, int max_warps) {
  return static_cast<int>(std::min<int64_t>(max_warps, std::max<int64_t>(1, n_units / 32)));
}

// Staged when asked and the rows fit: 16-byte aligned rows of whole 16-byte words.
template <int R>
bool can_stage(const MatvecJob* jobs, int n_jobs) {
  bool ok = n_jobs > 0 && static_cast<size_t>(R) * jobs[0].w.row_bytes <= kMaxStageBytes && jobs[0].w.row_bytes % 16 == 0;
  for (int i = 0; i < n_jobs; ++i) ok = ok && reinterpret_cast<uintptr_t>(jobs[i].w.data) % 16 == 0;
  return ok;
}

template <uint32_t T, int C, int R>
void launch_r(const MatvecJob* jobs, int n_jobs, const Q8Act& x, const Plan& p, cudaStream_t s) {
  const JobSet js = make_job_set<R>(jobs, n_jobs);
  const unsigned blocks = js.first_block[kMaxMatvecJobs];
  const int64_t n_units = units_per_row<T>(js.k);
  const int warps = block_warps(n_units, p.max_warps);
  const bool staged = p.staged && can_stage<R>(jobs, n_jobs);
  const size_t smem = staged ? R * jobs[0].w.row_bytes : 0;
  if constexpr (C == 1) {
    bool all_accumulate = true;
    for (int i = 0; i < n_jobs; ++i) all_accumulate = all_accumulate && jobs[i].accumulate;
    const bool one_unit = n_units <= warps * 32 && !staged;
    const bool early = p.early && all_accumulate;
    if (one_unit && (early || p.one_unit)) {
      if constexpr (T == kDevQ4_0) {
        if (early) return launch(matvec_q8_kernel_q4_0_one_unit<R, true>, blocks, warps * 32, 0, s, js, x);
        return launch(matvec_q8_kernel_q4_0_one_unit<R, false>, blocks, warps * 32, 0, s, js, x);
      } else {
        if (early) return launch(matvec_q8_kernel_one_unit<T, T, R, true>, blocks, warps * 32, 0, s, js, x);
        return launch(matvec_q8_kernel_one_unit<T, T, R, false>, blocks, warps * 32, 0, s, js, x);
      }
    }
  }
  if constexpr (T == kDevQ4_0) {
    if (staged) {
      launch(matvec_q8_kernel_q4_0<C, R, true>, blocks, warps * 32, smem, s, js, x);
    } else {
      launch(matvec_q8_kernel_q4_0<C, R, false>, blocks, warps * 32, smem, s, js, x);
    }
  } else if (staged) {
    launch(matvec_q8_kernel<T, T, C, R, true, true>, blocks, warps * 32, smem, s, js, x);
  } else {
    launch(matvec_q8_kernel<T, T, C, R, false, false>, blocks, warps * 32, smem, s, js, x);
  }
}

// Q4_K jobs (jobs[0, n_first)) and Q6_K ones (the rest) in one launch (attn_v of the *_M mixes
// beside q and k): Q4_K read directly, Q6_K staged where its plan says so and its rows fit.
template <int C, int R>
void launch_mixed(const MatvecJob* jobs, int n_jobs, int n_first, const Q8Act& x, const Plan& p4, const Plan& p6,
                  cudaStream_t s) {
  static_assert(ChunkDotQ8<kDevQ4_K>::kChunks == ChunkDotQ8<kDevQ6_K>::kChunks, "one block size for both");
  JobSet js = make_job_set<R>(jobs, n_jobs);
  js.n_first = n_first;
  const unsigned blocks = js.first_block[kMaxMatvecJobs];
  const int64_t n_units = units_per_row<kDevQ4_K>(js.k);
  const int warps = block_warps(n_units, std::max(p4.max_warps, p6.max_warps));
  const bool staged = p6.staged && can_stage<R>(jobs + n_first, n_jobs - n_first);
  if constexpr (C == 1) {
    if (!staged && p4.one_unit && n_units <= warps * 32) {
      return launch(matvec_q8_kernel_one_unit<kDevQ4_K, kDevQ6_K, R, false>, blocks, warps * 32, 0, s, js, x);
    }
  }
  if (staged) {
    launch(matvec_q8_kernel<kDevQ4_K, kDevQ6_K, C, R, false, true>, blocks, warps * 32,
           R * jobs[n_first].w.row_bytes, s, js, x);
  } else {
    launch(matvec_q8_kernel<kDevQ4_K, kDevQ6_K, C, R, false, false>, blocks, warps * 32, 0, s, js, x);
  }
}

template <uint32_t T, int C>
void launch_c(const MatvecJob* jobs, int n_jobs, const Q8Act& x, cudaStream_t s) {
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  const Plan p = plan_for(T, rows, jobs[0].w.k, C);
  switch (rows_per_block<T, C>(rows, p.max_rows, p.min_blocks)) {
    case 8: if constexpr (C == 1 && ChunkDotQ8<T>::kMaxRows >= 8) return launch_r<T, C, 8>(jobs, n_jobs, x, p, s); break;
    case 4: if constexpr (C <= 2 && ChunkDotQ8<T>::kMaxRows >= 4) return launch_r<T, C, 4>(jobs, n_jobs, x, p, s); break;
    case 2: return launch_r<T, C, 2>(jobs, n_jobs, x, p, s);
    default: break;
  }
  launch_r<T, C, 1>(jobs, n_jobs, x, p, s);
}

// f(std::integral_constant<int, C>) for C = n_cols (1..kMatvecMaxCols).
template <typename F>
void with_cols(int n_cols, F f) {
  switch (n_cols) {
#define QUARREL_MVQ_CASE(C) \
  case C: f(std::integral_constant<int, C>{}); break;
    QUARREL_MVQ_CASE(1) QUARREL_MVQ_CASE(2) QUARREL_MVQ_CASE(3) QUARREL_MVQ_CASE(4)
    QUARREL_MVQ_CASE(5) QUARREL_MVQ_CASE(6) QUARREL_MVQ_CASE(7) QUARREL_MVQ_CASE(8)
#undef QUARREL_MVQ_CASE
    default: break;
  }
}

template <uint32_t T>
void launch(const MatvecJob* jobs, int n_jobs, const Q8Act& x, int n_cols, cudaStream_t s) {
  with_cols(n_cols, [&](auto c) { launch_c<T, decltype(c)::value>(jobs, n_jobs, x, s); });
}

template <int C>
void launch_mixed_c(const MatvecJob* jobs, int n_jobs, int n_first, const Q8Act& x, cudaStream_t s) {
  int64_t rows = 0;
  for (int i = 0; i < n_jobs; ++i) rows += jobs[i].w.n;
  const Plan p4 = plan_for(kDevQ4_K, rows, jobs[0].w.k, C), p6 = plan_for(kDevQ6_K, rows, jobs[0].w.k, C);
  if (rows_per_block<kDevQ4_K, C>(rows, std::min(2, p4.max_rows)) >= 2) {
    launch_mixed<C, 2>(jobs, n_jobs, n_first, x, p4, p6, s);
  } else {
    launch_mixed<C, 1>(jobs, n_jobs, n_first, x, p4, p6, s);
  }
}

}  // namespace

void set_matvec_rows_cap(int rows) { g_rows_override = rows == 1 || rows == 2 || rows == 4 || rows == 8 ? rows : 0; }
void set_matvec_staging(int on) { g_staged_override = on < 0 ? -1 : (on != 0 ? 1 : 0); }
void set_matvec_early_loads(int on) { g_early_override = on < 0 ? -1 : (on != 0 ? 1 : 0); }
void set_matvec_one_unit(int on) { g_one_unit_override = on < 0 ? -1 : (on != 0 ? 1 : 0); }

bool matvec_q8_supported(uint32_t type) {
  return type == kDevQ4_0 || type == kDevQ8_0 || type == kDevQ4_K || type == kDevQ5_K || type == kDevQ6_K ||
         type == kDevIQ4_XS;
}

bool matvec_q8_mixable(uint32_t a, uint32_t b) {
  return (a == kDevQ4_K && b == kDevQ6_K) || (a == kDevQ6_K && b == kDevQ4_K);
}

void matvec_q8(const MatvecJob* jobs, int n_jobs, const Q8Act& x, int n_cols, cudaStream_t s) {
  if (n_cols < 1 || n_cols > kMatvecMaxCols || n_jobs < 1) return;
  bool mixed = false;
  for (int i = 1; i < n_jobs; ++i) mixed = mixed || jobs[i].w.type != jobs[0].w.type;
  if (mixed) {  // Q4_K first, then Q6_K
    if (n_jobs > kMaxMatvecJobs) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matvec_q8: {} jobs (1 to 3)", n_jobs);
    MatvecJob sorted[kMaxMatvecJobs];
    int n_first = 0, n_sorted = 0;
    for (const uint32_t t : {kDevQ4_K, kDevQ6_K}) {
      for (int i = 0; i < n_jobs; ++i) {
        if (jobs[i].w.type != t) continue;
        if (jobs[i].w.k != jobs[0].w.k) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matvec_q8: jobs of k {} and {}", jobs[0].w.k, jobs[i].w.k);
        sorted[n_sorted++] = jobs[i];
      }
      if (t == kDevQ4_K) n_first = n_sorted;
    }
    if (n_sorted != n_jobs) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matvec_q8: mixed types other than Q4_K and Q6_K");
    with_cols(n_cols, [&](auto c) { launch_mixed_c<decltype(c)::value>(sorted, n_jobs, n_first, x, s); });
    QUARREL_CUDA_CHECK_LAUNCH();
    return;
  }
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
    case kDevIQ4_XS: launch<kDevIQ4_XS>(jobs, n_jobs, x, n_cols, s); break;
    default: break;
  }
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
