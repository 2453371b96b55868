// The k best logits of each row on the device (sampling candidates), by radix select on the
// sampler's rank key (backend/rank_key.h): three histogram passes over the row (11, 11 and 10
// bits of the key) find the key T of the k-th best; then every token above T is taken, and of
// the tokens equal to T the lowest ids until there are k, all placed in id order by block scans.
// Two stages for k <= 1024: the k best of each 4096-token slice (many blocks), then the k best
// of those (one block per row); larger k: one block over the row.
#include <cub/block/block_scan.cuh>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/kernels.h"
#include "backend/rank_key.h"

namespace quarrel::cuda {
namespace {

constexpr int kThreads = 1024;
constexpr int kMaxBins = 2048;
constexpr int64_t kSliceElems = 4096;  // stage 1: tokens per block
constexpr int kMaxSliceK = 1024;        // larger k: one stage

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

// The k best of the n logits vals[0, n) (token ids ids[i], or id_base + i without ids; the
// list in increasing id order), written to out_ids / out_vals [k] in increasing id order.
__device__ void select_block(const float* vals, const int32_t* ids, int32_t id_base, int64_t n, int k,
                             int32_t* out_ids, float* out_vals) {
  __shared__ unsigned hist[kMaxBins];
  __shared__ int s_digit, s_above;
  uint32_t prefix = 0, mask = 0;
  int remaining = k;  // of the tokens matching prefix, how many of the best are still to find
#pragma unroll 1
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = pass == 0 ? 21 : pass == 1 ? 10 : 0, bins = pass == 2 ? 1024 : 2048;
    for (int b = threadIdx.x; b < bins; b += kThreads) hist[b] = 0;
    __syncthreads();
    for (int64_t i = threadIdx.x; i < n; i += kThreads) {
      const uint32_t key = backend::logit_rank_key(vals[i]);
      if ((key & mask) == prefix) atomicAdd(&hist[(key >> shift) & (bins - 1)], 1u);
    }
    __syncthreads();
    if (threadIdx.x < 32) find_digit(hist, bins, remaining, &s_digit, &s_above);
    __syncthreads();
    remaining -= s_above;
    prefix |= static_cast<uint32_t>(s_digit) << shift;
    mask |= static_cast<uint32_t>(bins - 1) << shift;
    __syncthreads();  // hist is cleared by the next pass
  }
  // k - remaining tokens rank above T = prefix; of those with key T, the `remaining` first in
  // the list (the lowest ids) complete the k best. Thread j owns [j * span, (j + 1) * span), so
  // block scans give every output its place, in list order.
  const uint32_t t = prefix;
  const int64_t span = (n + kThreads - 1) / kThreads;
  const int64_t lo = threadIdx.x * span, hi = lo + span < n ? lo + span : n;
  int above = 0, ties = 0;
  for (int64_t i = lo; i < hi; ++i) {
    const uint32_t key = backend::logit_rank_key(vals[i]);
    above += key > t ? 1 : 0;
    ties += key == t ? 1 : 0;
  }
  using Scan = cub::BlockScan<int, kThreads>;
  __shared__ typename Scan::TempStorage scan;
  int ties_before = 0, pos = 0;
  Scan(scan).ExclusiveSum(ties, ties_before);
  __syncthreads();
  int take_ties = remaining - ties_before;
  take_ties = take_ties < 0 ? 0 : (take_ties > ties ? ties : take_ties);
  Scan(scan).ExclusiveSum(above + take_ties, pos);
  for (int64_t i = lo; i < hi; ++i) {
    const float v = vals[i];
    const uint32_t key = backend::logit_rank_key(v);
    if (key > t || (key == t && take_ties-- > 0)) {
      out_ids[pos] = ids ? ids[i] : id_base + static_cast<int32_t>(i);
      out_vals[pos] = v;
      ++pos;
    }
  }
}

// Stage 1, grid (slices, rows): the k_slice best of each slice of kSliceElems tokens.
__global__ void __launch_bounds__(kThreads) select_slices_kernel(const float* logits, int64_t n, int k_slice,
                                                                 int32_t* part_ids, float* part_vals) {
  const int64_t lo = static_cast<int64_t>(blockIdx.x) * kSliceElems;
  const int64_t len = n - lo < kSliceElems ? n - lo : kSliceElems;
  const int k = len < k_slice ? static_cast<int>(len) : k_slice;
  const int64_t out = (static_cast<int64_t>(blockIdx.y) * gridDim.x + blockIdx.x) * k_slice;
  select_block(logits + static_cast<int64_t>(blockIdx.y) * n + lo, nullptr, static_cast<int32_t>(lo), len, k,
               part_ids + out, part_vals + out);
}

// Stage 2 (or the only stage when k is large), grid (rows): the k best of a row's list.
// Rows are `stride` apart.
__global__ void __launch_bounds__(kThreads) select_rows_kernel(const float* vals, const int32_t* ids, int64_t stride,
                                                               int64_t n, int k, int32_t* out_ids, float* out_vals) {
  const int64_t r = blockIdx.x;
  select_block(vals + r * stride, ids ? ids + r * stride : nullptr, 0, n, k, out_ids + r * k, out_vals + r * k);
}

__global__ void gather_logits_kernel(const float* logits, int64_t n, const int32_t* rows, const int32_t* ids,
                                     int64_t count, float* out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i < count) out[i] = logits[static_cast<int64_t>(rows[i]) * n + ids[i]];
}

}  // namespace

size_t select_top_k_scratch_bytes(int64_t n, int64_t rows, int k) {
  const int64_t slices = (n + kSliceElems - 1) / kSliceElems;
  return k <= kMaxSliceK ? static_cast<size_t>(slices * rows * k) * 8 : 0;
}

void select_top_k(const float* logits, int64_t n, int64_t rows, int k, int32_t* out_ids, float* out_vals, void* scratch,
                  cudaStream_t s) {
  if (rows == 0) return;
  if (k < 1 || k > n) ::quarrel::fail(::quarrel::ErrorCode::kInternal, "select_top_k: k = {} of {}", k, n);
  const int64_t slices = (n + kSliceElems - 1) / kSliceElems;
  if (k > kMaxSliceK || slices == 1) {  // one block per row over the whole row
    select_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(logits, nullptr, n, n, k, out_ids, out_vals);
    QUARREL_CUDA_CHECK_LAUNCH();
    return;
  }
  // The k best of a row are among the k best of its slices: stage 1 keeps those (in id order,
  // slice after slice), stage 2 selects from them. Slices shorter than k keep all they have:
  // only the last one can be, and its unused places (at the end of the row's list) are not read.
  auto* part_ids = static_cast<int32_t*>(scratch);
  auto* part_vals = reinterpret_cast<float*>(part_ids + slices * rows * k);
  select_slices_kernel<<<dim3(static_cast<unsigned>(slices), static_cast<unsigned>(rows)), kThreads, 0, s>>>(
      logits, n, k, part_ids, part_vals);
  QUARREL_CUDA_CHECK_LAUNCH();
  const int64_t last = n - (slices - 1) * kSliceElems;
  const int64_t n2 = (slices - 1) * k + (last < k ? last : k);
  select_rows_kernel<<<static_cast<unsigned>(rows), kThreads, 0, s>>>(part_vals, part_ids, slices * k, n2, k, out_ids,
                                                                       out_vals);
  QUARREL_CUDA_CHECK_LAUNCH();
}

void gather_logits(const float* logits, int64_t n, const int32_t* rows, const int32_t* ids, int64_t count, float* out,
                   cudaStream_t s) {
  if (count == 0) return;
  gather_logits_kernel<<<static_cast<unsigned>((count + 255) / 256), 256, 0, s>>>(logits, n, rows, ids, count, out);
  QUARREL_CUDA_CHECK_LAUNCH();
}

}  // namespace quarrel::cuda
