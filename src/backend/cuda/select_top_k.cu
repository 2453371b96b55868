// The k best logits of each row on the device (sampling candidates), by radix select on the
// sampler's rank key (backend/rank_key.h): three histogram passes over the row (11, 11 and 10
// bits of the key) find the key T of the k-th best; then every token above T is taken, and of
// the tokens equal to T the lowest ids (in id order) until there are k. One block per row.
#include <cub/block/block_scan.cuh>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/rank_key.h"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kMaxBins = 2048;

// Finds the digit d (of `bins` bins, a multiple of 32) that holds the `remaining`-th largest
// key among the counted ones: count(bins > d) < remaining <= count(bins >= d). Warp 0 only.
// Returns d in s_digit and the count above it in s_above.
__device__ void find_digit(const unsigned* hist, int bins, int remaining, int* s_digit, int* s_above) {
  const int lane = threadIdx.x & 31;
  const int per_lane = bins / 32, lo = lane * per_lane;
  int sum = 0;
  for (int b = lo; b < lo + per_lane; ++b) sum += static_cast<int>(hist[b]);
  // above = the counts of the higher lanes (inclusive scan from lane 31 down, minus own).
  int incl = sum;
  for (int off = 1; off < 32; off <<= 1) {
    const int o = __shfl_down_sync(0xffffffffu, incl, off);
    if (lane + off < 32) incl += o;
  }
  int above = incl - sum;
  if (above < remaining && remaining <= incl) {
    for (int b = lo + per_lane - 1; b >= lo; --b) {
      const int c = static_cast<int>(hist[b]);
      if (above + c >= remaining) {
        *s_digit = b;
        *s_above = above;
        break;
      }
      above += c;
    }
  }
}

__global__ void __launch_bounds__(kThreads) select_top_k_kernel(const float* logits, int64_t n, int k, int32_t* out_ids,
                                                                 float* out_vals) {
  const float* row = logits + static_cast<int64_t>(blockIdx.x) * n;
  int32_t* ids = out_ids + static_cast<int64_t>(blockIdx.x) * k;
  float* vals = out_vals + static_cast<int64_t>(blockIdx.x) * k;
  __shared__ unsigned hist[kMaxBins];
  __shared__ int s_digit, s_above, s_taken;
  uint32_t prefix = 0, mask = 0;
  int remaining = k;  // of the tokens matching prefix, how many of the best are still to find
  int ties = 0;       // tokens whose key is T, after the last pass
#pragma unroll 1
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass == 0 ? 21 : pass == 1 ? 10 : 0, bins = pass == 2 ? 1024 : 2048;
    for (int b = threadIdx.x; b < bins; b += kThreads) hist[b] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const uint32_t key = backend::logit_rank_key(row[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & (bins - 1)], 1u);
    }
    __syncthreads();
    if (threadIdx.x < 32) find_digit(hist, bins, remaining, &s_digit, &s_above);
    __syncthreads();
    const int d = s_digit;
    remaining -= s_above;
    ties = static_cast<int>(hist[d]);
    prefix |= static_cast<uint32_t>(d) << shift;
    mask |= static_cast<uint32_t>(bins - 1) << shift;
    __syncthreads();  // hist is cleared by the next pass
  }
  // Now: k - remaining tokens rank above T = prefix, `ties` tokens have key T, remaining of
  // them (the lowest ids) complete the k best.
  const uint32_t t = prefix;
  if (threadIdx.x == 0) s_taken = 0;
  __syncthreads();
  const bool all_ties = ties == remaining;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float v = row[i];
    const uint32_t key = backend::logit_rank_key(v);
    if (key > t || (all_ties && key == t)) {
      const int p = atomicAdd(&s_taken, 1);
      ids[p] = static_cast<int32_t>(i);
      vals[p] = v;
    }
  }
  if (all_ties) return;
  // More ties than places: the lowest ids. Thread j owns ids [j * span, (j + 1) * span).
  __syncthreads();
  const int base = k - remaining;
  const int64_t span = (n + kThreads - 1) / kThreads;
  const int64_t lo = threadIdx.x * span, hi = lo + span < n ? lo + span : n;
  int mine = 0;
  for (int64_t i = lo; i < hi; ++i) mine += backend::logit_rank_key(row[i]) == t ? 1 : 0;
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan;
  int offset = 0;
  Scan(scan).ExclusiveSum(mine, offset);
  for (int64_t i = lo; i < hi && offset < remaining; ++i) {
    const float v = row[i];
    if (backend::logit_rank_key(v) != t) continue;
    ids[base + offset] = static_cast<int32_t>(i);
    vals[base + offset] = v;
    ++offset;
  }
}

__global__ void gather_logits_kernel(const float* logits, int64_t n, const int32_t* rows, const int32_t* ids,
                                     int64_t count, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = logits[static_cast<int64_t>(rows[i]) * n + ids[i]];
}

}  // namespace

void select_top_k(const float* logits, int64_t n, int64_t rows, int k, int32_t* out_ids, float* out_vals,
                  cudaStream_t s) {
  if (rows == 0) return;
  if (k < 1 || k > n) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "select_top_k: k = {} of {}", k, n);
  select_top_k_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, n, k, out_ids, out_vals);
  QUARREL_CUDA_CHECK_LAUNCH();
}

void gather_logits(const float* logits, int64_t n, const int32_t* rows, const int32_t* ids, int64_t count, float* out,
                   cudaStream_t s) {
  if (count == 0) return;
  gather_logits_kernel<<<static_cast<unsigned>((count + 255) / 256), 256, 0, s>>>(logits, n, rows, ids, count, out);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
