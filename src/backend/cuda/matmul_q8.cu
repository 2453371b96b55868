// Products of quantized weights with batches of int8 activations (Q8Act) on the int8 tensor
// cores: the batches past the decode matvec's 8 columns and up to a few dozen (continuous
// batching of many sequences, short prompts), which otherwise take an F16 copy of every matrix
// through cuBLAS (4x the bytes of a 4-bit model) or dequantize each matrix per pass.
//
// A block of 4 warps computes a tile of 64 rows (16 per warp) by 8 NC columns over a range of
// 256-element slabs of k, in a pipeline of kStages shared-memory stages filled by cp.async: a
// stage holds the tile's rows' slab bytes as stored (mmq_slab.cuh: a few contiguous runs per row)
// and the slab of the activations. While later slabs are in flight, each warp reads its A
// fragments straight from the staged bytes (int8 words, scales per chunk) and runs mma.sync
// m16n8k32 (two m16n8k16 for Q6_K's scales per 16) per 32-element chunk and column group,
// scaling each chunk's int32 sums into f32 accumulators. Small matrices split k over blockIdx.y so
// that the grid fills the GPU; the splits' partial sums go to a scratch buffer and a second
// kernel adds them in a fixed order (results do not depend on timing).
//
// matmul_f16act: the same tiles with f16 activations. Each lane turns its int8 fragment words
// into f16 weights with the chunk's scale (and min) folded in, and runs two mma.sync m16n8k16
// (f16 in, f32 accumulate) per chunk and column group: no per-chunk rescale of the sums, so the
// work per column is two mma and two 8-byte activation loads. The fragment's k order (lane t:
// elements 4t..4t+3 of each half-chunk) is the int8 one; the activations are read in the same
// order, and a dot product does not depend on the order of its terms.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdlib>
#include <type_traits>

#include "backend/cuda/cp_async.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/env_knob.h"
#include "backend/cuda/launch.cuh"
#include "backend/cuda/mmq_slab.cuh"

namespace quarrel::cuda {
namespace {

// A block: W warps of 16 rows each (4; more for f16 activations of many columns: f16_warps()).
template <int W>
constexpr int kTileRows = 16 * W;
template <int W>
constexpr int kThreads = 32 * W;
constexpr int kSlab = 256;     // elements of k per stage
constexpr int kSlabChunks = kSlab / 32;
// Bytes per activation column in a stage (conflict-free B loads): int8, 4-byte loads by lanes
// (g, t) at word 68 g + t; f16, 8-byte loads at words 136 g + 2t (+1), in half-warp phases.
template <bool F16X>
constexpr int kXPitch = F16X ? 2 * kSlab + 32 : kSlab + 16;
constexpr int64_t kMaxSplits = 16;

struct MmqArgs {
  DevMatrix w;
  Q8Act x;
  const __half* xh = nullptr;  // f16 activations (matmul_f16act): column c at xh + c * ldxh
  int64_t ldxh = 0;
  int n_cols = 0;
  float* y = nullptr;
  int64_t ldy = 0;
  bool accumulate = false;
  float* partial = nullptr;  // [splits][n_cols][w.n] when gridDim.y > 1
  int64_t slabs_per_split = 0;
};

// Stages: two (blocks take few slabs; smaller shared memory keeps more of them resident).
constexpr int stages_for(int) { return 2; }

// One stage: the weight rows' slab bytes, then the activation columns and, for int8 ones, their
// (d_x, s_x) (a row of kSlabChunks + 1, so that lanes 2t's loads fall in distinct banks).
template <uint32_t T, int NC, bool F16X, int W>
struct MmqStage {
  static constexpr size_t kWeights = static_cast<size_t>(kTileRows<W>) * MmqSlab<T>::kPitch;
  static constexpr size_t kX = static_cast<size_t>(8 * NC) * kXPitch<F16X>;
  static constexpr size_t kDs = F16X ? 0 : static_cast<size_t>(8 * NC) * (kSlabChunks + 1) * sizeof(float2);
  static constexpr size_t kBytes = kWeights + kX + kDs;
  static constexpr size_t kSmem = kBytes * stages_for(NC);
};

__device__ __forceinline__ uint32_t lds32(const uint8_t* p) { return *reinterpret_cast<const uint32_t*>(p); }
__device__ __forceinline__ uint2 lds64(const uint8_t* p) { return *reinterpret_cast<const uint2*>(p); }

// int32 sums below 2^22 in magnitude to float without I2F: 2^23 + 2^22 + s is exact in f32.
__device__ __forceinline__ float int_to_float(int s) { return __int_as_float(s + 0x4B400000) - 12582912.0f; }

__device__ __forceinline__ void mma_k32(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                        uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%10,%10,%10,%10};\n"
      : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(0));
}
__device__ __forceinline__ void mma_k16(int (&d)[4], uint32_t a0, uint32_t a1, uint32_t b0) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5}, {%6}, {%7,%7,%7,%7};\n"
               : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
               : "r"(a0), "r"(a1), "r"(b0), "r"(0));
}

// acc += A B: f16 A (16 x 16) and B (16 x 8), f32 accumulators.
__device__ __forceinline__ void mma_f16(float (&acc)[4], uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                        uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// Four int8 values (a fragment word) as f16 weights d * q - m: elements 0, 1 in lo, 2, 3 in hi.
// A byte b ^ 0x80 under the f16 exponent of 1024 makes 1152 + b exactly; 1152 off is exact too,
// so the one rounding is the fused multiply-add's.
__device__ __forceinline__ void weights_f16(uint32_t w, __half2 d, __half2 neg_m, uint32_t& lo, uint32_t& hi) {
  const uint32_t u = w ^ 0x80808080u;
  const __half2 k1152 = __half2half2(__ushort_as_half(0x6480));
  const uint32_t l = __byte_perm(u, 0x64646464u, 0x4140), h = __byte_perm(u, 0x64646464u, 0x4342);
  const __half2 vl = __hfma2(__hsub2(*reinterpret_cast<const __half2*>(&l), k1152), d, neg_m);
  const __half2 vh = __hfma2(__hsub2(*reinterpret_cast<const __half2*>(&h), k1152), d, neg_m);
  lo = *reinterpret_cast<const uint32_t*>(&vl);
  hi = *reinterpret_cast<const uint32_t*>(&vh);
}

// Issues the copies of slab s into stage st: the tile's rows' pieces (rows past the matrix: none;
// their outputs are not stored) and the activations (columns past n_cols: none; elements past k:
// zeros, so that a partial slab adds nothing).
template <uint32_t T, int NC, bool F16X, int W>
__device__ __forceinline__ void issue_slab(const MmqArgs& a, uint8_t* st, int64_t s, int64_t r0, int col0, int n_cols) {
  using Slab = MmqSlab<T>;
  using Stage = MmqStage<T, NC, F16X, W>;
  const int64_t k = a.w.k, n = a.w.n, n_chunks = k / 32;
  const uint8_t* w = static_cast<const uint8_t*>(a.w.data);
  for (int i = threadIdx.x; i < kTileRows<W> * Slab::kPieces; i += kThreads<W>) {
    const int row = i / Slab::kPieces, q = i % Slab::kPieces;
    if (r0 + row >= n) continue;
    size_t off = 0;
    int bytes = 0;
    Slab::piece(q, s, k, off, bytes);
    const uint8_t* src = w + static_cast<size_t>(r0 + row) * a.w.row_bytes + off;
    uint8_t* dst = st + row * Slab::kPitch + 16 * q;
    if (q == Slab::kWordPiece && Slab::kWordBytes == 8) {
      cp_async8(dst, src);
    } else if (q == Slab::kWordPiece) {
      cp_async4(dst, src);
    } else {
      cp_async16(dst, bytes > 0 ? src : w, bytes);
    }
  }
  uint8_t* xq = st + Stage::kWeights;
  if constexpr (F16X) {
    for (int i = threadIdx.x; i < n_cols * (kSlab / 8); i += kThreads<W>) {
      const int c = i / (kSlab / 8), part = i % (kSlab / 8);
      const int64_t e = s * kSlab + 8 * part;
      cp_async16(xq + c * kXPitch<true> + 16 * part, e < k ? a.xh + (col0 + c) * a.ldxh + e : a.xh, e < k ? 16 : 0);
    }
  } else {
    for (int i = threadIdx.x; i < n_cols * (kSlab / 16); i += kThreads<W>) {
      const int c = i / (kSlab / 16), part = i % (kSlab / 16);
      const int64_t e = s * kSlab + 16 * part;
      cp_async16(xq + c * kXPitch<false> + 16 * part, e < k ? a.x.q + (col0 + c) * a.x.ldq + e : a.x.q, e < k ? 16 : 0);
    }
    float2* ds = reinterpret_cast<float2*>(st + Stage::kWeights + Stage::kX);
    const int64_t ld_ds = a.x.ldq / 32;
    for (int i = threadIdx.x; i < n_cols * kSlabChunks; i += kThreads<W>) {
      const int c = i / kSlabChunks, ch = i % kSlabChunks;
      const int64_t chunk = s * kSlabChunks + ch;
      const float2* src = chunk < n_chunks ? a.x.ds + (col0 + c) * ld_ds + chunk : a.x.ds;
      cp_async8(ds + c * (kSlabChunks + 1) + ch, src, chunk < n_chunks ? 8 : 0);
    }
  }
}

template <uint32_t T, int NC, bool F16X, int W>
__global__ void __launch_bounds__(kThreads<W>) matmul_q8_kernel(MmqArgs a) {
  using Slab = MmqSlab<T>;
  using Stage = MmqStage<T, NC, F16X, W>;
  constexpr int kStages = stages_for(NC);
  constexpr bool kHalfScales = T == kDevQ6_K, kHasMin = T == kDevQ4_K || T == kDevQ5_K;
  extern __shared__ uint4 smem_raw[];
  uint8_t* smem = reinterpret_cast<uint8_t*>(smem_raw);

  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, g = lane >> 2, t = lane & 3;
  const int64_t k = a.w.k, n = a.w.n, r0 = static_cast<int64_t>(blockIdx.x) * kTileRows<W>;
  const int64_t n_slabs = (k / 32 + kSlabChunks - 1) / kSlabChunks;
  const int64_t s_begin = blockIdx.y * a.slabs_per_split, s_end = std::min(n_slabs, s_begin + a.slabs_per_split);
  const int col0 = 64 * blockIdx.z, n_cols = std::min(8 * NC, a.n_cols - col0);

  float acc[NC][4];
#pragma unroll
  for (int j = 0; j < NC; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

  pdl_wait();
#pragma unroll
  for (int i = 0; i < kStages - 1; ++i) {  // the first stages in flight (a group each, empty or not)
    if (s_begin + i < s_end) issue_slab<T, NC, F16X, W>(a, smem + i * Stage::kBytes, s_begin + i, r0, col0, n_cols);
    cp_async_commit();
  }
  const int ra = 16 * warp + g;  // this lane's rows of the tile: ra and ra + 8
  for (int64_t s = s_begin; s < s_end; ++s) {
    cp_async_wait_group<kStages - 2>();  // slab s is in (this thread's copies)
    __syncthreads();                     // ... everyone's; and everyone is done with slab s - 1's stage
    const int64_t next = s + kStages - 1;
    if (next < s_end) {
      issue_slab<T, NC, F16X, W>(a, smem + ((next - s_begin) % kStages) * Stage::kBytes, next, r0, col0, n_cols);
    }
    cp_async_commit();
    const uint8_t* st = smem + ((s - s_begin) % kStages) * Stage::kBytes;
    const uint8_t* wa = st + ra * Slab::kPitch;
    const uint8_t* wb = wa + 8 * Slab::kPitch;
    const uint8_t* xq = st + Stage::kWeights;
    const float2* xds = reinterpret_cast<const float2*>(st + Stage::kWeights + Stage::kX);
#pragma unroll
    for (int cl = 0; cl < kSlabChunks; ++cl) {
      uint32_t a0, a1, a2, a3;  // rows ra / ra + 8, elements 4t.. / 16 + 4t..
      Slab::fragment(wa, cl, t, a0, a2);
      Slab::fragment(wb, cl, t, a1, a3);
      const MmqScales sa = mmq_scales<T>(wa, cl, s, k), sb = mmq_scales<T>(wb, cl, s, k);
      if constexpr (F16X) {
        // f16 A of the half-chunks: rows ra, ra + 8, k order 4t, 4t + 1 | 4t + 2, 4t + 3.
        uint32_t f[2][4];
        weights_f16(a0, __float2half2_rn(sa.d0), __float2half2_rn(-sa.m), f[0][0], f[0][2]);
        weights_f16(a1, __float2half2_rn(sb.d0), __float2half2_rn(-sb.m), f[0][1], f[0][3]);
        weights_f16(a2, __float2half2_rn(sa.d1), __float2half2_rn(-sa.m), f[1][0], f[1][2]);
        weights_f16(a3, __float2half2_rn(sb.d1), __float2half2_rn(-sb.m), f[1][1], f[1][3]);
#pragma unroll
        for (int j = 0; j < NC; ++j) {
          const uint8_t* xc = xq + (8 * j + g) * kXPitch<true> + 2 * (32 * cl + 4 * t);
          const uint2 b0 = lds64(xc), b1 = lds64(xc + 32);
          mma_f16(acc[j], f[0][0], f[0][1], f[0][2], f[0][3], b0.x, b0.y);
          mma_f16(acc[j], f[1][0], f[1][1], f[1][2], f[1][3], b1.x, b1.y);
        }
      } else {
#pragma unroll
        for (int j = 0; j < NC; ++j) {
          const uint32_t b0 = lds32(xq + (8 * j + g) * kXPitch<false> + 32 * cl + 4 * t);
          const uint32_t b1 = lds32(xq + (8 * j + g) * kXPitch<false> + 32 * cl + 16 + 4 * t);
          const float2 x0 = xds[(8 * j + 2 * t) * (kSlabChunks + 1) + cl];
          const float2 x1 = xds[(8 * j + 2 * t + 1) * (kSlabChunks + 1) + cl];
          // acc[j]: (row ra, column 2t), (ra, 2t + 1), (ra + 8, 2t), (ra + 8, 2t + 1) of the group
          if constexpr (kHalfScales) {
            int lo[4], hi[4];
            mma_k16(lo, a0, a1, b0);
            mma_k16(hi, a2, a3, b1);
            acc[j][0] += x0.x * (sa.d0 * int_to_float(lo[0]) + sa.d1 * int_to_float(hi[0]));
            acc[j][1] += x1.x * (sa.d0 * int_to_float(lo[1]) + sa.d1 * int_to_float(hi[1]));
            acc[j][2] += x0.x * (sb.d0 * int_to_float(lo[2]) + sb.d1 * int_to_float(hi[2]));
            acc[j][3] += x1.x * (sb.d0 * int_to_float(lo[3]) + sb.d1 * int_to_float(hi[3]));
          } else {
            int d[4];
            mma_k32(d, a0, a1, a2, a3, b0, b1);
            acc[j][0] += sa.d0 * x0.x * int_to_float(d[0]);
            acc[j][1] += sa.d0 * x1.x * int_to_float(d[1]);
            acc[j][2] += sb.d0 * x0.x * int_to_float(d[2]);
            acc[j][3] += sb.d0 * x1.x * int_to_float(d[3]);
            if constexpr (kHasMin) {
              acc[j][0] -= sa.m * x0.y;
              acc[j][1] -= sa.m * x1.y;
              acc[j][2] -= sb.m * x0.y;
              acc[j][3] -= sb.m * x1.y;
            }
          }
        }
      }
    }
  }
  cp_async_wait_all();

  const int64_t rows[2] = {r0 + ra, r0 + ra + 8};
#pragma unroll
  for (int j = 0; j < NC; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t r = rows[e >> 1];
      const int c = 8 * j + 2 * t + (e & 1);
      if (r >= n || c >= n_cols) continue;
      if (gridDim.y > 1) {
        a.partial[(static_cast<int64_t>(blockIdx.y) * a.n_cols + col0 + c) * n + r] = acc[j][e];
      } else {
        float* yp = a.y + (col0 + c) * a.ldy + r;
        *yp = a.accumulate ? *yp + acc[j][e] : acc[j][e];
      }
    }
  }
}

// y[c * ldy + r] (+)= the splits' partial sums, added in split order.
__global__ void matmul_q8_reduce_kernel(const float* partial, int splits, int n_cols, int64_t n, float* y, int64_t ldy,
                                        bool accumulate) {
  pdl_wait();
  const int64_t total = static_cast<int64_t>(n_cols) * n;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t c = i / n, r = i % n;
    float sum = accumulate ? y[c * ldy + r] : 0.0f;
    for (int s = 0; s < splits; ++s) sum += partial[(static_cast<int64_t>(s) * n_cols + c) * n + r];
    y[c * ldy + r] = sum;
  }
}

int sm_count() {
  static const int n = [] {
    int dev = 0, v = 0;
    QUARREL_CUDA_CHECK(cudaGetDevice(&dev));
    QUARREL_CUDA_CHECK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, dev));
    return v;
  }();
  return n;
}

// The kernel for T, NC, the activations' type and W, with its shared memory allowed (once), and
// how many of its blocks an SM holds.
template <uint32_t T, int NC, bool F16X, int W>
int blocks_per_sm() {
  static const int n = [] {
    const auto kernel = matmul_q8_kernel<T, NC, F16X, W>;
    const int smem = static_cast<int>(MmqStage<T, NC, F16X, W>::kSmem);
    QUARREL_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
    int b = 0;
    QUARREL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&b, kernel, kThreads<W>, smem));
    return std::max(b, 1);
  }();
  return n;
}

// Splits of k: the fewest that minimize the slab steps of the longest-running SM slot, the grid
// run in waves of what the GPU holds at once; at most kMaxSplits and as the scratch allows.
// The kernel is bound by each warp's latency chain (fragment loads, mma, scaling), so many short
// blocks beat a few long pipelines (measured: 4096 x 14336 Q4_K at 16 columns, 1 / 2 / 8 splits:
// 44.6 / 50.5 / 34.7 us). QUARREL_CUDA_MMQ_SPLITS=N forces N (as the slabs and scratch allow).
int64_t choose_splits(int64_t blocks, int64_t n_slabs, int64_t capacity, int64_t max_splits) {
  static const int64_t forced = env_int("QUARREL_CUDA_MMQ_SPLITS", 0);
  if (forced > 0) return std::min<int64_t>({forced, n_slabs, max_splits});
  int64_t best = 1, best_steps = INT64_MAX;
  for (int64_t sp = 1; sp <= std::min<int64_t>({kMaxSplits, n_slabs, max_splits}); ++sp) {
    const int64_t per = (n_slabs + sp - 1) / sp, waves = (blocks * sp + capacity - 1) / capacity;
    if (waves * per < best_steps) best = sp, best_steps = waves * per;
  }
  return best;
}

template <uint32_t T, int NC, bool F16X, int W>
void launch_t(MmqArgs& a, float* scratch, size_t scratch_floats, cudaStream_t s) {
  const int64_t tiles = (a.w.n + kTileRows<W> - 1) / kTileRows<W>, col_tiles = (a.n_cols + 63) / 64;
  const int64_t n_slabs = (a.w.k / 32 + kSlabChunks - 1) / kSlabChunks;
  const int64_t capacity = static_cast<int64_t>(blocks_per_sm<T, NC, F16X, W>()) * sm_count();
  const int64_t per_split = static_cast<int64_t>(a.n_cols) * a.w.n;
  const int64_t max_splits = scratch ? std::max<int64_t>(1, static_cast<int64_t>(scratch_floats) / per_split) : 1;
  int64_t splits = choose_splits(tiles * col_tiles, n_slabs, capacity, max_splits);
  a.slabs_per_split = (n_slabs + splits - 1) / splits;
  splits = (n_slabs + a.slabs_per_split - 1) / a.slabs_per_split;
  a.partial = splits > 1 ? scratch : nullptr;
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(splits), static_cast<unsigned>(col_tiles));
  launch(matmul_q8_kernel<T, NC, F16X, W>, grid, dim3(kThreads<W>), MmqStage<T, NC, F16X, W>::kSmem, s, a);
  QUARREL_CUDA_CHECK_LAUNCH();
  if (splits > 1) {
    const auto blocks = static_cast<unsigned>(std::min<int64_t>((per_split + 255) / 256, 4 * sm_count()));
    launch(matmul_q8_reduce_kernel, dim3(blocks), dim3(256), 0, s, static_cast<const float*>(scratch),
           static_cast<int>(splits), a.n_cols, a.w.n, a.y, a.ldy, a.accumulate);
    QUARREL_CUDA_CHECK_LAUNCH();
  }
}

// Warps per block for f16 activations: 8 for 17 to 32 columns, 16 for 33 to 64, whose staged
// activations the 128 or 256 rows then share (H200, 8B Q4_K_M, 64 sequences decoding together
// without F16 copies: 6089 / 6648 / 6815 tok/s with 4 / 8 / 16 warps; 32 sequences: 4385 / 4766 /
// 4672). QUARREL_CUDA_MMQ_WARPS=4, 8 or 16 sets both.
template <int NC>
int f16_warps() {
  static const int w = static_cast<int>(env_int("QUARREL_CUDA_MMQ_WARPS", NC >= 8 ? 16 : 8));
  return w;
}

template <uint32_t T, int NC, bool F16X>
void launch_nc(MmqArgs& a, float* scratch, size_t scratch_floats, cudaStream_t s) {
  if constexpr (F16X && NC >= 4) {
    const int w = f16_warps<NC>();
    if (w == 8) return launch_t<T, NC, F16X, 8>(a, scratch, scratch_floats, s);
    if (w == 16) return launch_t<T, NC, F16X, 16>(a, scratch, scratch_floats, s);
  }
  launch_t<T, NC, F16X, 4>(a, scratch, scratch_floats, s);
}

template <uint32_t T, bool F16X>
void launch_type(MmqArgs& a, float* scratch, size_t scratch_floats, cudaStream_t s) {
  const int cols = std::min(a.n_cols, 64);
  if (cols <= 8) return launch_nc<T, 1, F16X>(a, scratch, scratch_floats, s);
  if (cols <= 16) return launch_nc<T, 2, F16X>(a, scratch, scratch_floats, s);
  if (cols <= 32) return launch_nc<T, 4, F16X>(a, scratch, scratch_floats, s);
  launch_nc<T, 8, F16X>(a, scratch, scratch_floats, s);
}

template <bool F16X>
void launch_any(MmqArgs& a, float* scratch, size_t scratch_floats, cudaStream_t s) {
  switch (a.w.type) {
    case kDevQ4_0: launch_type<kDevQ4_0, F16X>(a, scratch, scratch_floats, s); break;
    case kDevQ8_0: launch_type<kDevQ8_0, F16X>(a, scratch, scratch_floats, s); break;
    case kDevQ4_K: launch_type<kDevQ4_K, F16X>(a, scratch, scratch_floats, s); break;
    case kDevQ5_K: launch_type<kDevQ5_K, F16X>(a, scratch, scratch_floats, s); break;
    case kDevQ6_K: launch_type<kDevQ6_K, F16X>(a, scratch, scratch_floats, s); break;
    case kDevIQ4_XS: launch_type<kDevIQ4_XS, F16X>(a, scratch, scratch_floats, s); break;
    default: break;
  }
}

void check_takes(const DevMatrix& w, const char* what) {
  if (!matmul_q8_supported(w.type) || w.k % 32 != 0) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "{}: weight type {} with k {} has no tensor-core kernel", what,
                    w.type, w.k);
  }
}

}  // namespace

void matmul_q8_prepare() {
  const auto all_nc = [](auto tag) {
    constexpr uint32_t T = decltype(tag)::value;
    const int blocks[] = {blocks_per_sm<T, 1, false, 4>(), blocks_per_sm<T, 2, false, 4>(),
                          blocks_per_sm<T, 4, false, 4>(), blocks_per_sm<T, 8, false, 4>(),
                          blocks_per_sm<T, 1, true, 4>(),  blocks_per_sm<T, 2, true, 4>(),
                          blocks_per_sm<T, 4, true, 4>(),  blocks_per_sm<T, 8, true, 4>(),
                          blocks_per_sm<T, 4, true, 8>(),  blocks_per_sm<T, 8, true, 8>(),
                          blocks_per_sm<T, 4, true, 16>(), blocks_per_sm<T, 8, true, 16>()};
    (void)blocks;
  };
  all_nc(std::integral_constant<uint32_t, kDevQ4_0>{});
  all_nc(std::integral_constant<uint32_t, kDevQ8_0>{});
  all_nc(std::integral_constant<uint32_t, kDevQ4_K>{});
  all_nc(std::integral_constant<uint32_t, kDevQ5_K>{});
  all_nc(std::integral_constant<uint32_t, kDevQ6_K>{});
  all_nc(std::integral_constant<uint32_t, kDevIQ4_XS>{});
  sm_count();
}

bool matmul_q8_supported(uint32_t type) {
  return type == kDevQ4_0 || type == kDevQ8_0 || type == kDevQ4_K || type == kDevQ5_K || type == kDevQ6_K ||
         type == kDevIQ4_XS;
}

namespace {

// The arguments both products share; the activations are the caller's to set.
MmqArgs args_of(const DevMatrix& w, int n_cols, float* y, int64_t ldy, bool accumulate) {
  MmqArgs a;
  a.w = w;
  a.n_cols = n_cols;
  a.y = y;
  a.ldy = ldy;
  a.accumulate = accumulate;
  return a;
}

}  // namespace

void matmul_q8(const DevMatrix& w, const Q8Act& x, int n_cols, float* y, int64_t ldy, bool accumulate, float* scratch,
               size_t scratch_floats, cudaStream_t s) {
  if (n_cols < 1 || w.n < 1) return;
  check_takes(w, "matmul_q8");
  MmqArgs a = args_of(w, n_cols, y, ldy, accumulate);
  a.x = x;
  launch_any<false>(a, scratch, scratch_floats, s);
}

void matmul_f16act(const DevMatrix& w, const void* x_f16, int64_t ldx, int n_cols, float* y, int64_t ldy,
                   bool accumulate, float* scratch, size_t scratch_floats, cudaStream_t s) {
  if (n_cols < 1 || w.n < 1) return;
  check_takes(w, "matmul_f16act");
  if (ldx % 8 != 0 || ldx < w.k) {
    ::quarrel::fail(::quarrel::ErrorCode::kInternal, "matmul_f16act: column stride {} for k {} (a multiple of 8 >= k)",
                    ldx, w.k);
  }
  MmqArgs a = args_of(w, n_cols, y, ldy, accumulate);
  a.xh = static_cast<const __half*>(x_f16);
  a.ldxh = ldx;
  launch_any<true>(a, scratch, scratch_floats, s);
}

}  // namespace quarrel::cuda
