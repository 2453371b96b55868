// gpu_cuda_persistent_bench: would a persistent decode kernel beat the launch chain? It times the
// four matvec stages of 32 Llama-3-8B layers (q/k/v, o, gate/up, down; all Q4_K, int8
// activations; 3.9 GB of weights, each layer its own) two ways:
// - the launch chain the decode graph runs today: 128 matvec_q8 launches with programmatic
//   dependent launch, captured into a CUDA graph and replayed;
// - one cooperative launch whose resident warps take the same rows stage after stage (a warp
//   per R rows, the same loads and dot products as matvec_q8), separated by grid barriers:
//   static shares or shares taken from a counter per stage; one arrival counter or eight; with
//   and without each warp prefetching into the L2, before the barrier, the rows it takes first in
//   the next stage (three ways); and, to separate the costs, without barriers (order not kept:
//   timing only) and with barriers but no work.
// Then whether a prefetch into the L2 makes a later read of the same bytes faster at all.
// The stages do not feed each other here (x is fixed), so the figures are the weights' streaming
// and the grid-wide dependencies, not a model. PERF_NOTES.md (session 18) has the results. No
// GPU: prints a line and exits 0.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "backend/cuda/chunk_dot_q8.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_buffer.h"
#include "backend/cuda/device_info.h"
#include "backend/cuda/device_rows.h"
#include "backend/cuda/kernels.h"
#include "backend/cuda/launch.cuh"

namespace {

using namespace quarrel::cuda;

constexpr int kLayers = 32;

// One stage: up to three matrices of one k that read the same x; virtual block b (R rows) of
// matrix j is b - first_vb[j] for first_vb[j] <= b < first_vb[j + 1].
struct Stage {
  const uint8_t* w[3];
  float* y[3];
  int64_t n[3];
  unsigned first_vb[4];
  size_t row_bytes;
  int64_t k;
};

__device__ __forceinline__ unsigned ld_acquire(const unsigned* p) {
  unsigned v;
  asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}

// Every block arrives (its writes made visible first), then waits for all gridDim.x of them:
// target = gridDim.x times the barriers passed so far, counter zeroed before the launch.
__device__ __forceinline__ void grid_barrier(unsigned* bar, unsigned target) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    atomicAdd(bar, 1u);
    while (ld_acquire(bar) < target) {
    }
  }
  __syncthreads();
}

// The same with the arrivals spread over 8 counters (block b arrives at counter b % 8), so that
// fewer atomics queue on one address; threads 0..7 each wait for one counter.
__device__ __forceinline__ void grid_barrier_spread(unsigned* bar8, unsigned barriers_passed) {
  __syncthreads();
  if (threadIdx.x == 0) {
    __threadfence();
    atomicAdd(bar8 + (blockIdx.x & 7), 1u);
  }
  if (threadIdx.x < 8) {
    const unsigned mine = (gridDim.x + 7 - threadIdx.x) / 8;  // blocks b < gridDim.x with b % 8 == threadIdx.x
    while (ld_acquire(bar8 + threadIdx.x) < barriers_passed * mine) {
    }
  }
  __syncthreads();
}

__device__ __forceinline__ int job_of(const Stage& st, unsigned vb) {
  return (vb >= st.first_vb[1] ? 1 : 0) + (vb >= st.first_vb[2] ? 1 : 0);
}

// Virtual block vb of stage st: R rows, the warp's lanes over the units of k, as
// matvec_q8_block does for one warp.
template <int R>
__device__ __forceinline__ void vblock_rows(const Stage& st, const Q8Act& x, unsigned vb) {
  using Dot = ChunkDotQ8<kDevQ4_K>;
  const int lane = static_cast<int>(threadIdx.x & 31);
  const int64_t k = st.k, n_units = k / 64;
  const int j = job_of(st, vb);
  const int64_t r0 = static_cast<int64_t>(vb - st.first_vb[j]) * R, n = st.n[j];
  const uint8_t* rows = st.w[j] + static_cast<size_t>(r0) * st.row_bytes;
  float acc[R];
#pragma unroll
  for (int r = 0; r < R; ++r) acc[r] = 0.0f;
  for (int64_t u = lane; u < n_units; u += 32) {
    Dot::Raw raw[R];
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (r0 + r < n) raw[r] = Dot::load(rows + static_cast<size_t>(r) * st.row_bytes, u, k);
    }
    int xi[2][8];
    float2 ds[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) load_x_chunk<Dot>(x.q, x.ds, 2 * u + i, xi[i], ds[i]);
#pragma unroll
    for (int r = 0; r < R; ++r) {
      if (r0 + r < n) acc[r] += Dot::dot(raw[r], xi, ds);
    }
  }
#pragma unroll
  for (int r = 0; r < R; ++r) {
    float a = acc[r];
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) a += __shfl_xor_sync(0xffffffffu, a, off);
    if (lane == 0 && r0 + r < n) st.y[j][r0 + r] = a;
  }
}

// Static shares: warp gw of n_workers takes virtual blocks gw, gw + n_workers, ...
template <int R>
__device__ __forceinline__ void stage_static(const Stage& st, const Q8Act& x, unsigned gw, unsigned n_workers) {
  for (unsigned vb = gw; vb < st.first_vb[3]; vb += n_workers) vblock_rows<R>(st, x, vb);
}

// Dynamic shares: each warp takes the next G virtual blocks from the stage's counter until none
// is left (a warp that met slower memory takes fewer).
template <int R, int G>
__device__ __forceinline__ void stage_dynamic(const Stage& st, const Q8Act& x, unsigned* next) {
  const unsigned total = st.first_vb[3];
  while (true) {
    unsigned vb = 0;
    if ((threadIdx.x & 31) == 0) vb = atomicAdd(next, static_cast<unsigned>(G));
    vb = __shfl_sync(0xffffffffu, vb, 0);
    if (vb >= total) return;
#pragma unroll 1
    for (int g = 0; g < G && vb + g < total; ++g) vblock_rows<R>(st, x, vb + g);
  }
}

// How a warp fetches into the L2 the R rows it takes first in the next stage.
enum Prefetch : int { kNone = 0, kLines128 = 1, kSectors32 = 2, kBulk = 3 };

__device__ __forceinline__ void prefetch_bulk_l2(const void* p, unsigned bytes) {
  asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(p), "r"(bytes) : "memory");
}

// Fetches bytes [p, p + bytes) into the L2 the way `how` says, from one warp.
__device__ __forceinline__ void warp_prefetch(const uint8_t* p, size_t bytes, int how) {
  const unsigned lane = threadIdx.x & 31;
  if (how == kBulk) {  // 16-byte multiples; a lane per 4 KB piece
    for (size_t o = 4096 * lane; o < bytes; o += 32 * 4096) {
      prefetch_bulk_l2(p + o, static_cast<unsigned>(min(static_cast<size_t>(4096), bytes - o)));
    }
    return;
  }
  const size_t step = how == kSectors32 ? 32 : 128;
  for (size_t o = step * lane; o < bytes; o += 32 * step) prefetch_l2(p + o);
}

template <int R>
__device__ __forceinline__ void prefetch_first_rows(const Stage& st, unsigned gw, int how) {
  if (gw >= st.first_vb[3]) return;
  const int j = job_of(st, gw);
  const int64_t r0 = static_cast<int64_t>(gw - st.first_vb[j]) * R;
  const size_t bytes = static_cast<size_t>(min(static_cast<int64_t>(R), st.n[j] - r0)) * st.row_bytes;
  warp_prefetch(st.w[j] + static_cast<size_t>(r0) * st.row_bytes, bytes, how);
}

enum Mode : int {
  kBarriers = 1,
  kSpreadBarriers = 2,
  kNoWork = 4,
  kDynamic1 = 16,
  kDynamic4 = 32
};  // prefetch: bits 8..

template <int R, int W>
__global__ void __launch_bounds__(W * 32, 16 / W)
    persistent_chain(const Stage* stages, int n_stages, Q8Act x, unsigned* bar, int mode) {
  const unsigned gw = blockIdx.x * W + (threadIdx.x >> 5), n_workers = gridDim.x * W;
  for (int s = 0; s < n_stages; ++s) {
    if (mode & kDynamic1) {
      stage_dynamic<R, 1>(stages[s], x, bar + 16 + s);
    } else if (mode & kDynamic4) {
      stage_dynamic<R, 4>(stages[s], x, bar + 16 + s);
    } else if (!(mode & kNoWork)) {
      stage_static<R>(stages[s], x, gw, n_workers);
    }
    if ((mode >> 8) && s + 1 < n_stages) prefetch_first_rows<R>(stages[s + 1], gw, mode >> 8);
    if (mode & kBarriers) grid_barrier(bar + 8, static_cast<unsigned>(s + 1) * gridDim.x);
    if (mode & kSpreadBarriers) grid_barrier_spread(bar, static_cast<unsigned>(s + 1));
  }
}

struct Layer {
  DevMatrix q, k, v, o, gate, up, down;
};

DevMatrix q4k_matrix(std::vector<DeviceBuffer>& bufs, int64_t k, int64_t n) {
  DevMatrix m;
  m.type = kDevQ4_K;
  m.k = k;
  m.n = n;
  m.row_bytes = device_row_bytes(kDevQ4_K, k);
  bufs.emplace_back(m.row_bytes * static_cast<size_t>(n));
  QUARREL_CUDA_CHECK(cudaMemset(bufs.back().get(), 0x11, bufs.back().size()));
  m.data = bufs.back().get();
  return m;
}

template <int R>
Stage stage_of(std::initializer_list<DevMatrix> ms, float* y) {
  Stage st{};
  unsigned vb = 0;
  int j = 0;
  for (const DevMatrix& m : ms) {
    st.w[j] = static_cast<const uint8_t*>(m.data);
    st.y[j] = y;
    st.n[j] = m.n;
    st.first_vb[j] = vb;
    st.row_bytes = m.row_bytes;
    st.k = m.k;
    vb += static_cast<unsigned>((m.n + R - 1) / R);
    y += m.n;
    ++j;
  }
  for (; j < 4; ++j) st.first_vb[j] = vb;
  return st;
}

// Milliseconds that run() takes on stream s, by CUDA events.
template <typename F>
float elapsed_ms(F run, cudaStream_t s) {
  cudaEvent_t a, b;
  QUARREL_CUDA_CHECK(cudaEventCreate(&a));
  QUARREL_CUDA_CHECK(cudaEventCreate(&b));
  QUARREL_CUDA_CHECK(cudaEventRecord(a, s));
  run();
  QUARREL_CUDA_CHECK(cudaEventRecord(b, s));
  QUARREL_CUDA_CHECK(cudaEventSynchronize(b));
  float ms = 0;
  QUARREL_CUDA_CHECK(cudaEventElapsedTime(&ms, a, b));
  QUARREL_CUDA_CHECK(cudaEventDestroy(a));
  QUARREL_CUDA_CHECK(cudaEventDestroy(b));
  return ms;
}

// Median over reps runs after two for warm-up, in microseconds.
template <typename F>
double median_us(F run, cudaStream_t s, int reps = 9) {
  run();
  run();
  std::vector<float> t;
  for (int i = 0; i < reps; ++i) t.push_back(elapsed_ms(run, s));
  std::sort(t.begin(), t.end());
  return 1000.0 * t[t.size() / 2];
}

template <int R, int W>
double time_persistent(const std::vector<Layer>& layers, const Q8Act& x, float* y, unsigned* bar, int mode,
                       cudaStream_t s) {
  std::vector<Stage> host;
  for (const Layer& l : layers) {
    host.push_back(stage_of<R>({l.q, l.k, l.v}, y));
    host.push_back(stage_of<R>({l.o}, y));
    host.push_back(stage_of<R>({l.gate, l.up}, y));
    host.push_back(stage_of<R>({l.down}, y));
  }
  DeviceBuffer dev(host.size() * sizeof(Stage));
  QUARREL_CUDA_CHECK(cudaMemcpy(dev.get(), host.data(), dev.size(), cudaMemcpyHostToDevice));
  auto kernel = persistent_chain<R, W>;
  int per_sm = 0;
  QUARREL_CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, W * 32, 0));
  const int grid = per_sm * device_info(0).multiprocessors;
  const Stage* stages = dev.get<Stage>();
  int n_stages = static_cast<int>(host.size());
  void* args[] = {&stages, &n_stages, const_cast<Q8Act*>(&x), &bar, &mode};
  return median_us(
      [&] {
        QUARREL_CUDA_CHECK(cudaMemsetAsync(bar, 0, 4 * (16 + host.size()), s));
        QUARREL_CUDA_CHECK(cudaLaunchCooperativeKernel(reinterpret_cast<void*>(kernel), grid, W * 32, args, 0, s));
      },
      s);
}

double time_launch_chain(const std::vector<Layer>& layers, const Q8Act& x, float* y, cudaStream_t s) {
  cudaGraph_t g;
  QUARREL_CUDA_CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  for (const Layer& l : layers) {
    const MatvecJob qkv[3] = {{l.q, y, l.q.n, false}, {l.k, y + 4096, l.k.n, false}, {l.v, y + 5120, l.v.n, false}};
    matvec_q8(qkv, 3, x, 1, s);
    const MatvecJob o{l.o, y, l.o.n, false};
    matvec_q8(&o, 1, x, 1, s);
    const MatvecJob gu[2] = {{l.gate, y, l.gate.n, false}, {l.up, y + l.gate.n, l.up.n, false}};
    matvec_q8(gu, 2, x, 1, s);
    const MatvecJob down{l.down, y, l.down.n, false};
    matvec_q8(&down, 1, x, 1, s);
  }
  QUARREL_CUDA_CHECK(cudaStreamEndCapture(s, &g));
  cudaGraphExec_t ge;
  QUARREL_CUDA_CHECK(cudaGraphInstantiate(&ge, g, 0));
  const double us = median_us([&] { QUARREL_CUDA_CHECK(cudaGraphLaunch(ge, s)); }, s);
  QUARREL_CUDA_CHECK(cudaGraphExecDestroy(ge));
  QUARREL_CUDA_CHECK(cudaGraphDestroy(g));
  return us;
}

// --- Does a prefetch into the L2 make a later read of the same bytes faster? ---
__global__ void read_words(const uint4* __restrict__ p, size_t n, unsigned* out) {
  unsigned v = 0;
  for (size_t i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const uint4 a = __ldg(p + i);
    v ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (v == 0x12345678u) *out = v;  // never (the bytes are 0x11), but the loads must happen
}
__global__ void prefetch_region(const uint8_t* p, size_t bytes, int how) {
  const size_t warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, n_warps = gridDim.x * blockDim.x / 32;
  const size_t piece = 32 * 4096;  // a warp's share at a time
  for (size_t o = warp * piece; o < bytes; o += n_warps * piece) warp_prefetch(p + o, min(piece, bytes - o), how);
}

void l2_probe(cudaStream_t s) {
  const size_t region = size_t{24} << 20, flush = size_t{512} << 20;
  DeviceBuffer a(region), f(flush), out(4);
  QUARREL_CUDA_CHECK(cudaMemset(a.get(), 0x11, region));
  QUARREL_CUDA_CHECK(cudaMemset(f.get(), 0x11, flush));
  const int sms = device_info(0).multiprocessors;
  auto read = [&](const DeviceBuffer& b) {
    read_words<<<sms * 8, 256, 0, s>>>(b.get<uint4>(), b.size() / 16, out.get<unsigned>());
  };
  std::printf("| before reading %zu MB | us to read it |\n|---|---|\n", region >> 20);
  const char* names[] = {"nothing (cold)", "prefetch.global.L2 every 128 B", "prefetch.global.L2 every 32 B",
                         "cp.async.bulk.prefetch.L2, 4 KB pieces", "a read of the same bytes"};
  for (int how = 0; how <= 4; ++how) {
    std::vector<float> t;
    for (int rep = 0; rep < 7; ++rep) {
      read(f);  // evicts the region
      if (how >= 1 && how <= 3) prefetch_region<<<sms * 4, 256, 0, s>>>(a.get<uint8_t>(), region, how);
      if (how == 4) read(a);
      QUARREL_CUDA_CHECK(cudaStreamSynchronize(s));
      t.push_back(elapsed_ms([&] { read(a); }, s));
    }
    std::sort(t.begin(), t.end());
    std::printf("| %s | %.1f |\n", names[how], 1000.0 * t[t.size() / 2]);
  }
}

}  // namespace

int main() {
  if (device_count() == 0) {
    std::printf("gpu_cuda_persistent_bench: no CUDA device present, nothing measured\n");
    return 0;
  }
  const DeviceInfo info = device_info(0);
  const double copy_gb_s = measure_copy_bandwidth_gb_s();
  std::vector<DeviceBuffer> bufs;
  std::vector<Layer> layers;
  size_t bytes = 0;
  for (int i = 0; i < kLayers; ++i) {
    Layer l{q4k_matrix(bufs, 4096, 4096), q4k_matrix(bufs, 4096, 1024),  q4k_matrix(bufs, 4096, 1024),
            q4k_matrix(bufs, 4096, 4096), q4k_matrix(bufs, 4096, 14336), q4k_matrix(bufs, 4096, 14336),
            q4k_matrix(bufs, 14336, 4096)};
    layers.push_back(l);
  }
  for (const DeviceBuffer& b : bufs) bytes += b.size();
  DeviceBuffer xq_buf(q8_act_bytes(14336, 1)), y(static_cast<size_t>(2 * 14336) * 4), bar(4096);
  QUARREL_CUDA_CHECK(cudaMemset(xq_buf.get(), 0, xq_buf.size()));
  const Q8Act x = q8_act_at(xq_buf.get(), 14336, 1);
  cudaStream_t s;
  QUARREL_CUDA_CHECK(cudaStreamCreate(&s));
  const double bound_us = static_cast<double>(bytes) / (copy_gb_s * 1e3);
  std::printf(
      "%s, %d SMs; copy bandwidth %.0f GB/s; %d layers of Q4_K q/k/v, o, gate/up, down: %.0f MB, %.1f us "
      "at the copy bandwidth\n",
      info.name.c_str(), info.multiprocessors, copy_gb_s, kLayers, bytes / 1e6, bound_us);
  std::printf("| variant | us | us per layer | %% of the copy bandwidth |\n|---|---|---|---|\n");
  auto row = [&](const char* name, double us) {
    std::printf("| %s | %.1f | %.2f | %.1f%% |\n", name, us, us / kLayers, 100.0 * bound_us / us);
  };
  row("launch chain (graph, PDL, matvec_q8's plan)", time_launch_chain(layers, x, y.get<float>(), s));
  unsigned* b = bar.get<unsigned>();
  float* yp = y.get<float>();
  row("persistent R=2, 16 warps: barriers", time_persistent<2, 16>(layers, x, yp, b, kBarriers, s));
  row("persistent R=2, 16 warps: spread barriers", time_persistent<2, 16>(layers, x, yp, b, kSpreadBarriers, s));
  const char* prefetch_names[] = {"", "prefetch.global.L2 / 128 B", "prefetch.global.L2 / 32 B", "bulk prefetch"};
  for (int how = kLines128; how <= kBulk; ++how) {
    const std::string n = std::string("persistent R=2, 16 warps: barriers + ") + prefetch_names[how];
    row(n.c_str(), time_persistent<2, 16>(layers, x, yp, b, kBarriers | (how << 8), s));
  }
  row("persistent R=2, 16 warps: barriers, dynamic shares (1)",
      time_persistent<2, 16>(layers, x, yp, b, kBarriers | kDynamic1, s));
  row("persistent R=2, 16 warps: spread barriers, dynamic shares (1)",
      time_persistent<2, 16>(layers, x, yp, b, kSpreadBarriers | kDynamic1, s));
  row("persistent R=2, 16 warps: spread barriers, dynamic shares (4)",
      time_persistent<2, 16>(layers, x, yp, b, kSpreadBarriers | kDynamic4, s));
  row("persistent R=4, 16 warps: spread barriers, dynamic shares (1)",
      time_persistent<4, 16>(layers, x, yp, b, kSpreadBarriers | kDynamic1, s));
  row("persistent R=2, 8 warps x 2 blocks: spread barriers, dynamic (1)",
      time_persistent<2, 8>(layers, x, yp, b, kSpreadBarriers | kDynamic1, s));
  row("persistent R=2, 16 warps: no barriers", time_persistent<2, 16>(layers, x, yp, b, 0, s));
  row("persistent R=2, 16 warps: no barriers, dynamic shares (1)",
      time_persistent<2, 16>(layers, x, yp, b, kDynamic1, s));
  row("persistent, barriers only (no work)", time_persistent<2, 16>(layers, x, yp, b, kBarriers | kNoWork, s));
  row("persistent, spread barriers only (no work)",
      time_persistent<2, 16>(layers, x, yp, b, kSpreadBarriers | kNoWork, s));
  l2_probe(s);
  QUARREL_CUDA_CHECK(cudaStreamDestroy(s));
  return 0;
}
