#include "backend/cpu/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include <xmmintrin.h>

#include "backend/cpu/kernels.h"
#include "core/error.h"
#include "quant/blocks.h"

namespace quarrel::cpu {
namespace {

// A growable 64-byte aligned scratch buffer (one per thread, reused across calls).
struct Scratch {
  std::vector<float> buf;
  float* get(size_t n_floats) {
    const size_t need = n_floats + 16;
    if (buf.size() < need) buf.resize(need);
    auto p = reinterpret_cast<uintptr_t>(buf.data());
    return reinterpret_cast<float*>((p + 63) & ~uintptr_t{63});
  }
};

Scratch& caller_scratch() {
  thread_local Scratch s;
  return s;
}
Scratch& prep_scratch() {
  thread_local Scratch s;
  return s;
}
Scratch& panel_scratch() {
  thread_local Scratch s;
  return s;
}

size_t stride_of(const WeightMatrix& w) { return w.row_stride ? w.row_stride : row_bytes(w.type, static_cast<uint64_t>(w.k)); }

void validate(const CpuKernels& K, std::span<const MatmulOut> outs, int64_t m) {
  QUARREL_ASSERT(!outs.empty() && m >= 0);
  const int64_t k = outs[0].w.k;
  for (const auto& o : outs) {
    const auto t = static_cast<int>(o.w.type);
    if (t < 0 || t >= kNumGgmlTypes || K.types[t].act == ActFormat::kNone) {
      fail(ErrorCode::kUnsupported, "matmul: no CPU kernel for weights of type {}", type_name(o.w.type));
    }
    const auto tr = traits(o.w.type);
    if (o.w.k != k || o.w.k <= 0 || o.w.k % tr.block_size != 0 || o.w.n < 0 || (o.w.n > 0 && !o.w.data) || !o.y) {
      fail(ErrorCode::kInternal, "matmul: bad shape: {} weights [{}, {}] (input k {})", tr.name, o.w.k, o.w.n, k);
    }
  }
}

// Runs do_unit(u) for u < n_units on the pool. Each thread works through its own contiguous
// share of the units (long sequential reads for the hardware prefetcher; neighbouring outputs
// written by one thread, not two), then helps with what is left of the others'.
template <typename Fn>
void run_units(ThreadPool& pool, int64_t n_units, const Fn& do_unit) {
  const int threads = pool.size();
  if (threads == 1 || n_units <= 1) {
    for (int64_t u = 0; u < n_units; ++u) do_unit(u);
    return;
  }
  struct alignas(64) Range {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };
  std::vector<Range> ranges(static_cast<size_t>(threads));
  for (int t = 0; t < threads; ++t) {
    ranges[static_cast<size_t>(t)].next.store(n_units * t / threads, std::memory_order_relaxed);
    ranges[static_cast<size_t>(t)].end = n_units * (t + 1) / threads;
  }
  pool.run_on_all([&](int t, int nt) {
    for (int i = 0; i < nt; ++i) {
      Range& r = ranges[static_cast<size_t>((t + i) % nt)];
      for (int64_t u = r.next.fetch_add(1, std::memory_order_relaxed); u < r.end;
           u = r.next.fetch_add(1, std::memory_order_relaxed))
        do_unit(u);
    }
  });
}

// ---- vec_dot path ---------------------------------------------------------------------------

void run_vec_dot(const CpuKernels& K, std::span<const MatmulOut> outs, const float* x, int64_t ldx, int64_t m,
                 ThreadPool& pool) {
  const int64_t k = outs[0].w.k;
  // Activation columns per format: quantized once, shared by every output and row.
  const size_t q8_0_bytes = act_row_bytes(ActFormat::kQ8_0, k);
  const size_t q8_K_bytes = act_row_bytes(ActFormat::kQ8_K, k);
  bool need_q8_0 = false, need_q8_K = false;
  for (const auto& o : outs) {
    const ActFormat f = K.types[static_cast<int>(o.w.type)].act;
    need_q8_0 |= f == ActFormat::kQ8_0;
    need_q8_K |= f == ActFormat::kQ8_K;
  }
  const size_t total = (need_q8_0 ? q8_0_bytes * m : 0) + (need_q8_K ? q8_K_bytes * m : 0);
  auto* act = reinterpret_cast<uint8_t*>(caller_scratch().get((total + 3) / 4));
  uint8_t* act_q8_0 = act;
  uint8_t* act_q8_K = act + (need_q8_0 ? q8_0_bytes * m : 0);
  for (int64_t j = 0; j < m; ++j) {
    if (need_q8_0) K.quantize_q8_0(x + j * ldx, act_q8_0 + q8_0_bytes * j, k);
    if (need_q8_K) K.quantize_q8_K(x + j * ldx, act_q8_K + q8_K_bytes * j, k);
  }

  // Prepared activation rows, once per column and prepare function (shared by the outputs
  // whose types use the same one).
  std::vector<PrepareFn> preps;
  std::vector<size_t> prep_offset;  // per distinct prepare fn: byte offset of its m rows
  std::vector<size_t> prep_stride;
  size_t prep_total = 0;
  for (const auto& o : outs) {
    const TypeKernels& tk = K.types[static_cast<int>(o.w.type)];
    if (!tk.prepare || std::find(preps.begin(), preps.end(), tk.prepare) != preps.end()) continue;
    preps.push_back(tk.prepare);
    const size_t stride = (tk.prepared_size(k) + 63) / 64 * 64;
    prep_offset.push_back(prep_total);
    prep_stride.push_back(stride);
    prep_total += stride * static_cast<size_t>(m);
  }
  uint8_t* prepared = preps.empty() ? nullptr : reinterpret_cast<uint8_t*>(prep_scratch().get((prep_total + 3) / 4));
  for (size_t p = 0; p < preps.size(); ++p) {
    // The activation format of the types that use this prepare function.
    ActFormat f = ActFormat::kNone;
    for (const auto& o : outs)
      if (K.types[static_cast<int>(o.w.type)].prepare == preps[p]) f = K.types[static_cast<int>(o.w.type)].act;
    for (int64_t j = 0; j < m; ++j) {
      const void* a = f == ActFormat::kQ8_0 ? static_cast<const void*>(act_q8_0 + q8_0_bytes * j)
                                            : static_cast<const void*>(act_q8_K + q8_K_bytes * j);
      preps[p](a, prepared + prep_offset[p] + prep_stride[p] * static_cast<size_t>(j), k);
    }
  }
  auto act_for = [&](const TypeKernels& tk, int64_t j) -> const void* {
    if (tk.prepare) {
      const size_t p = static_cast<size_t>(std::find(preps.begin(), preps.end(), tk.prepare) - preps.begin());
      return prepared + prep_offset[p] + prep_stride[p] * static_cast<size_t>(j);
    }
    if (tk.act == ActFormat::kF32) return x + j * ldx;
    if (tk.act == ActFormat::kQ8_0) return act_q8_0 + q8_0_bytes * j;
    return act_q8_K + q8_K_bytes * j;
  };

  // Row chunks over all outputs, taken dynamically.
  int64_t total_rows = 0;
  for (const auto& o : outs) total_rows += o.w.n;
  const int threads = pool.size();
  int64_t chunk = std::clamp<int64_t>(total_rows / (static_cast<int64_t>(threads) * 16), 8, 256);
  chunk = std::max<int64_t>(4, chunk / m);
  std::vector<int64_t> first_unit(outs.size() + 1, 0);
  for (size_t i = 0; i < outs.size(); ++i) first_unit[i + 1] = first_unit[i] + (outs[i].w.n + chunk - 1) / chunk;
  const int64_t n_units = first_unit.back();

  auto do_unit = [&](int64_t u) {
    const size_t oi = static_cast<size_t>(std::upper_bound(first_unit.begin(), first_unit.end(), u) - first_unit.begin() - 1);
    const MatmulOut& o = outs[oi];
    const int64_t r0 = (u - first_unit[oi]) * chunk;
    const int64_t nr = std::min(chunk, o.w.n - r0);
    const TypeKernels& tk = K.types[static_cast<int>(o.w.type)];
    const size_t stride = stride_of(o.w);
    const auto* wrow = static_cast<const uint8_t*>(o.w.data) + stride * static_cast<size_t>(r0);
    const int64_t ldy = o.ldy ? o.ldy : o.w.n;
    for (int64_t j = 0; j < m; ++j) tk.vec_dot(k, wrow, stride, nr, act_for(tk, j), o.y + j * ldy + r0);
  };

  run_units(pool, n_units, do_unit);
}

// ---- GEMM path --------------------------------------------------------------------------------

// The activation values column j stands for in a format: x itself (kF32), or x quantized to
// Q8_0 / Q8_K and dequantized again, so that the GEMM path computes on the same values as the
// vec_dot path (a token gets the same logits whether it is decoded alone or in a batch, up to
// float rounding order).
const float* activation_column(const CpuKernels& K, ActFormat act, const float* x, int64_t k) {
  if (act == ActFormat::kF32) return x;
  thread_local std::vector<uint8_t> q;
  thread_local std::vector<float> v;
  q.resize(act_row_bytes(act, k));
  v.resize(static_cast<size_t>(k));
  if (act == ActFormat::kQ8_0) {
    K.quantize_q8_0(x, q.data(), k);
    K.types[static_cast<int>(GgmlType::Q8_0)].dequant(q.data(), v.data(), k);
  } else {
    K.quantize_q8_K(x, q.data(), k);
    for (int64_t b = 0; b < k / quant::QK_K; ++b) {
      quant::BlockQ8_K blk;
      std::memcpy(&blk, q.data() + b * sizeof(blk), sizeof(blk));
      for (int i = 0; i < quant::QK_K; ++i) v[b * quant::QK_K + i] = blk.d * static_cast<float>(blk.qs[i]);
    }
  }
  return v.data();
}

// Every output of outs shares the activation format act.
void run_gemm(const CpuKernels& K, std::span<const MatmulOut> outs, ActFormat act, const float* x, int64_t ldx,
              int64_t m, ThreadPool& pool) {
  const int64_t k = outs[0].w.k;
  const int mr = K.gemm_mr, nr = K.gemm_nr;
  const int64_t n_cb = (m + nr - 1) / nr;
  // x packed per column block: xt[cb][kk][nr], zero past m.
  float* xt = caller_scratch().get(static_cast<size_t>(n_cb * k * nr));
  // Units: (column group, row panel), group-major, so the threads work through one group of
  // packed columns at a time (it stays in cache) while each panel is dequantized once per group.
  std::vector<int64_t> first_unit(outs.size() + 1, 0);
  for (size_t i = 0; i < outs.size(); ++i) first_unit[i + 1] = first_unit[i] + (outs[i].w.n + mr - 1) / mr;
  const int64_t n_panels = first_unit.back();
  const int64_t group_blocks = std::max<int64_t>(1, kGemmGroupColumns / nr);
  const int64_t n_groups = (n_cb + group_blocks - 1) / group_blocks;
  const int64_t n_units = n_panels * n_groups;

  // Column j of x (as the activation format has it) into its packed block; j >= m: zeros.
  auto pack_column = [&](int64_t j) {
    float* dst = xt + (j / nr) * k * nr + j % nr;
    if (j >= m) {
      for (int64_t kk = 0; kk < k; ++kk) dst[kk * nr] = 0.0f;
      return;
    }
    const float* src = activation_column(K, act, x + j * ldx, k);
    for (int64_t kk = 0; kk < k; ++kk) dst[kk * nr] = src[kk];
  };

  auto do_unit = [&](int64_t u) {
    const int64_t group = u / n_panels, panel = u % n_panels;
    const size_t oi = static_cast<size_t>(std::upper_bound(first_unit.begin(), first_unit.end(), panel) - first_unit.begin() - 1);
    const MatmulOut& o = outs[oi];
    const int64_t r0 = (panel - first_unit[oi]) * mr;
    const int n_r = static_cast<int>(std::min<int64_t>(mr, o.w.n - r0));
    const size_t stride = stride_of(o.w);
    const auto* wbase = static_cast<const uint8_t*>(o.w.data) + stride * static_cast<size_t>(r0);
    const float* wp;
    int64_t ldw;
    if (o.w.type == GgmlType::F32 && n_r == mr && stride % sizeof(float) == 0) {
      wp = reinterpret_cast<const float*>(wbase);
      ldw = static_cast<int64_t>(stride / sizeof(float));
    } else {
      float* buf = panel_scratch().get(static_cast<size_t>(mr * k));
      const DequantFn dq = K.types[static_cast<int>(o.w.type)].dequant;
      for (int r = 0; r < n_r; ++r) dq(wbase + stride * r, buf + r * k, k);
      if (n_r < mr) std::memset(buf + n_r * k, 0, sizeof(float) * static_cast<size_t>((mr - n_r) * k));
      wp = buf;
      ldw = k;
    }
    // Start fetching the next panel's weights (most likely this thread's next unit) while this
    // one computes: a panel is read once, in a burst, and the burst would otherwise stall.
    if (r0 + 2 * mr <= o.w.n) {
      const auto* next = wbase + stride * static_cast<size_t>(mr);
      const size_t bytes = row_bytes(o.w.type, static_cast<uint64_t>(k));
      for (int r = 0; r < mr; ++r)
        for (size_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(next + stride * r + off), _MM_HINT_T0);
    }
    const int64_t ldy = o.ldy ? o.ldy : o.w.n;
    const int64_t cb_end = std::min(n_cb, (group + 1) * group_blocks);
    for (int64_t cb = group * group_blocks; cb < cb_end; ++cb) {
      const int n_c = static_cast<int>(std::min<int64_t>(nr, m - cb * nr));
      const GemmFn fn = K.gemm_narrow && n_c <= K.gemm_narrow_nr ? K.gemm_narrow : K.gemm;
      fn(k, wp, ldw, n_r, xt + cb * k * nr, o.y + cb * nr * ldy + r0, ldy, n_c, false);
    }
  };

  const int threads = pool.size();
  const int64_t padded = n_cb * nr;
  if (threads == 1) {
    for (int64_t j = 0; j < padded; ++j) pack_column(j);
    run_units(pool, n_units, do_unit);
    return;
  }
  // Pack (whole column blocks shared out: a block's cache lines are written by one thread), then
  // the panels. Two dispatches: the pack must be complete first.
  pool.run_on_all([&](int t, int nt) {
    for (int64_t cb = t; cb < n_cb; cb += nt)
      for (int64_t j = cb * nr; j < (cb + 1) * nr; ++j) pack_column(j);
  });
  run_units(pool, n_units, do_unit);
}

}  // namespace

bool matmul_supported(GgmlType type) {
  const auto t = static_cast<int>(type);
  return t >= 0 && t < kNumGgmlTypes && scalar_kernels().types[t].act != ActFormat::kNone;
}

void matmul(const WeightMatrix& w, const float* x, float* y, int64_t m, ThreadPool& pool) {
  matmul(w, x, w.k, y, w.n, m, pool);
}

void matmul(const WeightMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int64_t m, ThreadPool& pool) {
  const MatmulOut out{w, y, ldy};
  matmul_multi(std::span<const MatmulOut>(&out, 1), x, ldx, m, pool);
}

void matmul_multi(std::span<const MatmulOut> outs, const float* x, int64_t ldx, int64_t m, ThreadPool& pool,
                  const MatmulOptions& options) {
  const CpuKernels& K = options.kernels ? *options.kernels : kernels();
  if (outs.empty() || m == 0) return;
  validate(K, outs, m);
  MatmulPath path = options.path;
  if (path == MatmulPath::kAuto) path = m >= kGemmMinColumns ? MatmulPath::kGemm : MatmulPath::kVecDot;
  if (path == MatmulPath::kVecDot) return run_vec_dot(K, outs, x, ldx, m, pool);
  // GEMM: one run per activation format among the outputs.
  for (ActFormat act : {ActFormat::kF32, ActFormat::kQ8_0, ActFormat::kQ8_K}) {
    std::vector<MatmulOut> group;
    for (const auto& o : outs)
      if (K.types[static_cast<int>(o.w.type)].act == act) group.push_back(o);
    if (!group.empty()) run_gemm(K, group, act, x, ldx, m, pool);
  }
}

}  // namespace quarrel::cpu
