#pragma once
// Launchers of the CUDA backend's kernels, one op per .cu file. Plain C++17 (this header is
// included by .cu files and by C++20 host code alike): raw device pointers, sizes, a stream.
// Shapes in GGUF order (ne0 innermost first). Every launcher checks its launch.
#include <cstddef>
#include <cstdint>

#include <cuda_runtime.h>

namespace quarrel::cuda {

// ggml type numbers the device kernels read directly (core/ggml_type.h's values).
enum DevType : uint32_t {
  kDevF32 = 0, kDevF16 = 1, kDevQ4_0 = 2, kDevQ8_0 = 8, kDevQ4_K = 12, kDevQ5_K = 13, kDevQ6_K = 14, kDevIQ4_XS = 23,
  kDevBF16 = 30,
  kDevF8E4M3 = 1000,  // KV caches only (GgmlType::F8_E4M3): never a weight type
};
// Whether the device kernels read this type directly (others are dequantized to F16 at load).
bool device_type_supported(uint32_t type);

// A weight matrix on the device: n rows of k elements, each row row_bytes long (rows laid out as
// device_rows.h says). [k, n]
struct DevMatrix {
  uint32_t type = kDevF16;
  const void* data = nullptr;
  int64_t k = 0, n = 0;
  size_t row_bytes = 0;
};

// --- dequant.cu ---
// out[r * k + j] = element j of row rows[r] (rows == nullptr: row r), as f16, r < n_rows.
void dequantize_rows_f16(const DevMatrix& w, const int32_t* rows, int64_t n_rows, void* out_f16, cudaStream_t s);
// The same as f32 (embedding lookup: rows are token ids). [k, n_rows]
void dequantize_rows_f32(const DevMatrix& w, const int32_t* rows, int64_t n_rows, float* out, cudaStream_t s);
// f32 -> f16, n elements.
void convert_f32_to_f16(const float* x, void* y_f16, int64_t n, cudaStream_t s);

// --- matvec.cu ---
// y[c * ldy + r] = sum_j W[r, j] * x[c * ldx + j] for r < w.n, c < n_cols (n_cols <= 8),
// straight on the weight's blocks. x: [k, n_cols] f32, y: [n, n_cols] f32. accumulate: y += W x.
constexpr int kMatvecMaxCols = 8;
void matvec(const DevMatrix& w, const float* x, int64_t ldx, float* y, int64_t ldy, int n_cols, cudaStream_t s,
            bool accumulate = false);
struct MatvecJob;
// What matvec_jobs folds into its products. glu: jobs 0 and 1 are gate and up (same n, at most
// kMatvecGluMaxCols columns): job 0's y = act(W0 x) * (W1 x), as glu() would make it from their
// products (a block computes rows of both), one launch less; job 1's y is not written.
constexpr int kMatvecGluMaxCols = 2;
// The gated FFN's activation: act(gate) * up.
enum class GluAct : int {
  kSilu,      // SwiGLU: g * sigmoid(g)
  kGeluTanh,  // GeGLU: GELU, tanh approximation, computed as g * sigmoid(2 sqrt(2/pi) (g + 0.044715 g^3))
};
struct MatvecFuse {
  bool glu = false;
  GluAct act = GluAct::kSilu;
};
// The same for 1-3 matrices of one type and k with the same x in one launch (q/k/v, gate/up).
void matvec_jobs(const MatvecJob* jobs, int n_jobs, const float* x, int64_t ldx, int n_cols, cudaStream_t s,
                 const MatvecFuse& fuse = {});

// --- q8_act.cu ---
// Activations quantized to int8 in chunks of 32 (as ggml's q8_1) for the integer matvec:
// column c's chunk j is q[c * ldq + 32 j .. + 32) (int8) with ds[c * (ldq / 32) + j] =
// (d, d * sum of its 32 q), x ~= d * q. ldq: a multiple of 32 >= k (bytes per column).
struct Q8Act {
  int8_t* q = nullptr;
  float2* ds = nullptr;
  int64_t ldq = 0;
};
// Bytes of a Q8Act for k x n_cols (q and ds, each 256-byte aligned) and its layout in a buffer.
size_t q8_act_bytes(int64_t k, int n_cols);
Q8Act q8_act_at(void* buffer, int64_t k, int n_cols);
// out = x [k, n_cols] (column stride ldx) quantized; k % 32 == 0.
void quantize_q8(const float* x, int64_t ldx, int64_t k, int n_cols, const Q8Act& out, cudaStream_t s);

// --- matvec_q8.cu ---
// matvec_q8 picks per launch its rows and warps per block, whether a block first stages its
// weight rows in shared memory (coalesced cp.async copies), whether a launch of at most one unit
// a thread takes the loop-free kernel, and whether such a launch whose jobs all add into their
// outputs (the o projection) loads its weights before the PDL wait, by type and size as measured
// (matvec_q8.cu); QUARREL_CUDA_MATVEC_ROWS / _WARPS / _STAGE / _EARLY / _ONE_UNIT override that,
// and these override rows, staging, early loads and the loop-free kernel (benchmarks, tests;
// 0 / -1: no override). Not thread-safe: set them before launching.
void set_matvec_rows_cap(int rows);
void set_matvec_staging(int on);
void set_matvec_early_loads(int on);
void set_matvec_one_unit(int on);
// Up to three matrices with the same k and the same activations in one launch (q/k/v, gate/up):
// y_i[c * ldy_i + r] (+)= sum_j W_i[r, j] * x[c, j], x given quantized (q8), n_cols <= 8.
struct MatvecJob {
  DevMatrix w;
  float* y = nullptr;
  int64_t ldy = 0;
  bool accumulate = false;  // y += W x (residual adds)
};
// The jobs share one type, or mix Q4_K and Q6_K (matvec_q8_mixable: q/k/v of the *_M mixes).
void matvec_q8(const MatvecJob* jobs, int n_jobs, const Q8Act& x, int n_cols, cudaStream_t s);
bool matvec_q8_mixable(uint32_t a, uint32_t b);
// Whether matvec_q8 reads this weight type (Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS).
bool matvec_q8_supported(uint32_t type);

// --- matmul_q8.cu ---
// y[c * ldy + r] (+)= sum_j W[r, j] * x[c, j] for batches of columns past the matvec's (any
// n_cols; made for up to a few dozen) on the int8 tensor cores, x quantized (q8). Matrices too
// small to fill the GPU split k, their partial sums in `scratch` (scratch_floats of room; fewer
// splits when it is short, none without it). Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, IQ4_XS.
void matmul_q8(const DevMatrix& w, const Q8Act& x, int n_cols, float* y, int64_t ldy, bool accumulate, float* scratch,
               size_t scratch_floats, cudaStream_t s);
bool matmul_q8_supported(uint32_t type);
// The same product with f16 activations: column c of x_f16 at c * ldx halves (ldx a multiple of 8,
// >= k). The weights become f16 with their scales folded in, as an F16 copy would hold them, and
// the sums are f32 (f16 tensor cores): no int8 rounding of x, no per-chunk rescale.
void matmul_f16act(const DevMatrix& w, const void* x_f16, int64_t ldx, int n_cols, float* y, int64_t ldy,
                   bool accumulate, float* scratch, size_t scratch_floats, cudaStream_t s);
// Sets the kernels' shared-memory limits and reads their occupancy (cached); call before a
// stream capture that may launch matmul_q8 or matmul_f16act.
void matmul_q8_prepare();

// --- rms_norm.cu ---
// y = x / sqrt(mean(x^2) + eps) * w per row of n; rows packed (x, y may alias); w may be null.
// q8 (n % 32 == 0, rows <= 8): y also written quantized.
void rms_norm(const float* x, const float* w, float* y, int64_t n, int64_t rows, float eps, cudaStream_t s,
              const Q8Act* q8 = nullptr);
// Per-head RMSNorm of q [n_q_rows rows of n] with q_w and of k [n_k_rows rows of n] with k_w in
// one launch (qwen3's and gemma3's Q/K norms; rms_norm's arithmetic), in place.
void rms_norm_qk(float* q, const float* q_w, int64_t n_q_rows, float* k, const float* k_w, int64_t n_k_rows, int64_t n,
                 float eps, cudaStream_t s);
// A block's output into the residual stream: x += scale * post_norm(t) per row of n, where
// post_norm(t) = rms_norm(t) * post_norm_w (gemma's post-norms) or t itself when post_norm_w is
// null, and scale 0 means 1 (granite's residual_scale). x [n, rows], t [n, rows] (t not written).
// With `next` (its y set), the same launch also makes the RMSNorm that follows: next.y =
// rms_norm(x) * next.w, and its int8 copy when next.q8 (n % 32 == 0).
struct NextNorm {
  const float* w = nullptr;
  float* y = nullptr;
  const Q8Act* q8 = nullptr;
};
void add_residual(float* x, const float* t, const float* post_norm_w, int64_t n, int64_t rows, float eps, float scale,
                  cudaStream_t s, const NextNorm& next = {});

// --- elementwise.cu ---
void add(const float* a, const float* b, float* y, int64_t n, cudaStream_t s);               // y = a + b
void add_bias(float* x, const float* bias, int64_t n, int64_t rows, cudaStream_t s);       // x[r, :] += bias
// x[i] = x[i] * mul, then soft-capped when cap > 0: cap * tanh(x[i] * mul / cap) (embedding
// scales, logit scales and final soft-caps).
void scale_softcap(float* x, int64_t n, float mul, float cap, cudaStream_t s);
void glu(const float* gate, const float* up, float* y, int64_t n, GluAct act, cudaStream_t s);  // act(g) * u
// y = act(gate) * up for rows of n (row stride n), also written quantized (n % 32 == 0).
void glu_q8(const float* gate, const float* up, float* y, int64_t n, int64_t rows, GluAct act, const Q8Act& q8,
            cudaStream_t s);
// dst[:, r] = src[:, rows[r]], rows of n floats.
void gather_rows(const float* src, const int32_t* rows, float* dst, int64_t n, int64_t n_rows, cudaStream_t s);
// dst = src, whole aligned 4-byte words (16-byte ones where bytes and both ends allow), either
// side pinned host memory (cudaMallocHost: the kernel reads or writes it through unified
// addressing) or device memory. A kernel in the stream's chain, not a copy-engine job between
// two kernels.
void copy_words(const void* src, void* dst, size_t bytes, cudaStream_t s);

// --- rope_kv.cu ---
// RoPE on q [head_dim, n_head, n] and k [head_dim, n_kv_head, n] in place (after the biases
// and a per-head RMSNorm when set) with the per-token
// cos/sin pairs cs [n_dims, n] (cos, sin interleaved, pair i at 2i), normal (adjacent pairs) or
// NeoX (halves) style; then writes k and v [head_dim, n_kv_head, n] to the paged cache at
// slots[t] (layout [head_dim, block_size, n_kv_head, n_blocks], as the CPU's) as kv_type: f16,
// or fp8 e4m3 (scale 1, round to nearest even, saturating to +-448; core/fp8.h).
// The KV cache element types (kv_type of RopeKvArgs and AttentionArgs): kDevF16, kDevF8E4M3.
struct RopeKvArgs {
  float* q = nullptr;
  float* k = nullptr;
  const float* v = nullptr;
  const float* cos_sin = nullptr;
  const int64_t* slots = nullptr;
  void* k_cache = nullptr;  // kv_type
  void* v_cache = nullptr;  // kv_type
  int n_tokens = 0, n_head = 0, n_kv_head = 0, head_dim = 0, n_dims = 0, block_size = 0;
  bool neox = false;
  uint32_t kv_type = kDevF16;  // kDevF16 or kDevF8E4M3
  // Set (all three): q [n_head * head_dim], k and v [n_kv_head * head_dim] biases added first.
  const float* q_bias = nullptr;
  const float* k_bias = nullptr;
  const float* v_bias = nullptr;
  // Set (with k_norm): each head of q and k RMS-normed by these [head_dim] weights (after the bias).
  const float* q_norm = nullptr;
  const float* k_norm = nullptr;
  float norm_eps = 0.0f;
};
void rope_kv_store(const RopeKvArgs& a, cudaStream_t s);

// --- attention.cu ---
// out [head_dim, n_head, n] = softmax(cap(q K^T * scale)) V per query head over the keys
// at positions [lo, pos[t]] of token t's sequence, read through its block table
// (block_tables + bt_offset[t]); lo = pos - window + 1 with a sliding window, else 0. The
// caches hold kv_type elements (f16 or fp8 e4m3, widened exactly to f32 / f16 when read).
struct AttentionArgs {
  const float* q = nullptr;
  float* out = nullptr;
  const void* k_cache = nullptr;  // kv_type
  const void* v_cache = nullptr;  // kv_type
  uint32_t kv_type = kDevF16;     // kDevF16 or kDevF8E4M3
  const int32_t* positions = nullptr;   // [n]
  const int32_t* bt_offset = nullptr;   // [n]
  const int32_t* block_tables = nullptr;
  int n_tokens = 0, n_head = 0, n_kv_head = 0, head_dim = 0, block_size = 0;
  int sliding_window = 0;
  float scale = 0.0f;  // 0: 1/sqrt(head_dim)
  float softcap = 0.0f;  // > 0: scores soft-capped after the scale, softcap * tanh(s / softcap) (gemma2)
  Q8Act out_q8;  // out_q8.q set: also write out quantized (head_dim % 32 == 0; column = token)
  // attention_decode only, k_new set: RoPE and the KV store fused in (rope_kv_store's work, for
  // batches whose every sequence has one token and rotation pairs (2p, 2p + 1)): q and k_new are
  // rotated here by cos_sin (rope_kv_store's layout, n_dims), and k_new, v_new ([head_dim,
  // n_kv_head, n] f32) go into the caches at each token's position, which must be its slot.
  const float* k_new = nullptr;
  const float* v_new = nullptr;
  const float* cos_sin = nullptr;
  int n_dims = 0;
  // attention_decode only: a promise that no token attends to more keys than this (0: none). The
  // kernel it picks is right for any context; this only chooses the fastest for the batch.
  int max_keys = 0;
};
constexpr int kAttentionMaxHeadDim = 512;
void attention(const AttentionArgs& a, cudaStream_t s);

// --- argmax.cu ---
// ids[r] = index of the largest of row r of x [n, rows] (first on ties, NaNs skipped; -1 if none).
// scratch: argmax_scratch_bytes(n, rows), zeroed once before its first use (it is left zeroed).
size_t argmax_scratch_bytes(int64_t n, int64_t rows);
void argmax_rows(const float* x, int64_t n, int64_t rows, int32_t* ids, void* scratch, cudaStream_t s);

// --- select_top_k.cu ---
// Sampling candidates: for each of `rows` rows of logits [n, rows], the k best tokens (the
// sampler's rank order, backend/rank_key.h; ties to the lower ids) as out_ids / out_vals
// [k, rows], in increasing id order within a row. 1 <= k <= n. scratch:
// select_top_k_scratch_bytes(n, rows, k) (may be 0: then scratch may be null).
size_t select_top_k_scratch_bytes(int64_t n, int64_t rows, int k);
void select_top_k(const float* logits, int64_t n, int64_t rows, int k, int32_t* out_ids, float* out_vals, void* scratch,
                  cudaStream_t s);
// out[i] = logits[rows[i] * n + ids[i]] for i < count.
void gather_logits(const float* logits, int64_t n, const int32_t* rows, const int32_t* ids, int64_t count, float* out,
                   cudaStream_t s);

}  // namespace quarrel::cuda
