#include "backend/cuda/cuda_weights.h"

#include <algorithm>
#include <map>
#include <thread>

#include "backend/cuda/device_rows.h"
#include "core/error.h"
#include "core/fp16.h"
#include "quant/quant.h"

namespace quarrel::cuda {
namespace {

constexpr size_t kAlign = 256;
size_t aligned(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

bool native(GgmlType t) { return device_type_supported(static_cast<uint32_t>(t)); }

// All rows of w (its higher dimensions included).
int64_t total_rows(const model::Weight& w) { return w.rows() * w.ne[2] * w.ne[3]; }

size_t matrix_device_bytes(const model::Weight& w) {
  const size_t rows = static_cast<size_t>(total_rows(w));
  return native(w.type) ? device_row_bytes(static_cast<uint32_t>(w.type), w.cols()) * rows
                        : static_cast<size_t>(w.cols()) * rows * 2;
}

// Dequantizes rows [r0, r1) of w into dst (f16 when f16, else f32), on all cores.
void host_dequantize(const model::Weight& w, void* dst, bool f16) {
  const int64_t rows = total_rows(w), k = w.cols();
  const unsigned n_threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> threads;
  for (unsigned ti = 0; ti < n_threads; ++ti) {
    threads.emplace_back([&, ti] {
      std::vector<float> row(static_cast<size_t>(k));
      for (int64_t r = ti; r < rows; r += n_threads) {
        quant::dequantize_row(w.type, w.row(r), row.data(), k);
        if (f16) {
          auto* o = static_cast<uint16_t*>(dst) + r * k;
          for (int64_t j = 0; j < k; ++j) o[j] = f32_to_fp16(row[static_cast<size_t>(j)]);
        } else {
          std::copy(row.begin(), row.end(), static_cast<float*>(dst) + r * k);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace

DevMatrix DeviceWeights::f16_of(const DevMatrix& m) const {
  if (m.type == kDevF16 || m.type == kDevF32) return m;
  for (const auto& [src, copy] : f16_copies) {
    if (src == m.data) return copy;
  }
  return DevMatrix{.type = kDevF16, .data = nullptr, .k = m.k, .n = m.n, .row_bytes = static_cast<size_t>(m.k) * 2};
}

int64_t DeviceWeights::max_matrix_elems() const {
  int64_t best = token_embd.k * token_embd.n;
  best = std::max(best, output.k * output.n);
  for (const DevLayer& l : layers) {
    for (const DevMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) best = std::max(best, m->k * m->n);
  }
  return best;
}

bool DeviceWeights::build_f16_cache(size_t budget, cudaStream_t s) {
  std::vector<const DevMatrix*> todo;
  auto consider = [&](const DevMatrix& m) {
    if (m.type == kDevF16 || m.type == kDevF32) return;
    for (const DevMatrix* t : todo) {
      if (t->data == m.data) return;
    }
    todo.push_back(&m);
  };
  consider(output);
  for (const DevLayer& l : layers) {
    for (const DevMatrix* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down}) consider(*m);
  }
  size_t total = 0;
  for (const DevMatrix* m : todo) total += aligned(static_cast<size_t>(m->k * m->n) * 2);
  if (todo.empty()) return true;
  if (total > budget) return false;
  f16_arena.reset(total);
  size_t off = 0;
  for (const DevMatrix* m : todo) {
    void* p = f16_arena.get<uint8_t>() + off;
    dequantize_rows_f16(*m, nullptr, m->n, p, s);
    f16_copies.emplace_back(m->data, DevMatrix{.type = kDevF16, .data = p, .k = m->k, .n = m->n,
                                               .row_bytes = static_cast<size_t>(m->k) * 2});
    off += aligned(static_cast<size_t>(m->k * m->n) * 2);
  }
  QUARREL_CUDA_CHECK(cudaStreamSynchronize(s));
  return true;
}

void upload_weights(const model::Model& m, DeviceWeights& out) {
  const model::HParams& hp = m.hparams();
  // Plan: every distinct tensor once (tied embeddings share), its offset in the arena.
  struct Item {
    const model::Weight* w;
    bool matrix;
    size_t offset, bytes;
  };
  std::vector<Item> items;
  std::map<const uint8_t*, size_t> index;  // tensor data -> item
  size_t total = 0;
  auto plan = [&](const model::Weight& w, bool matrix) {
    if (!w || index.count(w.data)) return;
    const size_t bytes = matrix ? matrix_device_bytes(w) : static_cast<size_t>(w.ne[0]) * 4;
    index[w.data] = items.size();
    items.push_back({&w, matrix, total, bytes});
    total += aligned(bytes);
  };
  plan(m.token_embd(), true);
  plan(m.output(), true);
  plan(m.output_norm(), false);
  for (const model::LayerWeights& l : m.layers()) {
    for (const model::Weight* w : {&l.wq, &l.wk, &l.wv, &l.wqkv, &l.wo, &l.ffn_gate, &l.ffn_up, &l.ffn_down}) plan(*w, true);
    for (const model::Weight* w : {&l.attn_norm, &l.ffn_norm, &l.bq, &l.bk, &l.bv, &l.q_norm, &l.k_norm,
                                   &l.attn_post_norm, &l.ffn_post_norm}) {
      plan(*w, false);
    }
  }
  size_t free_b = 0, total_b = 0;
  QUARREL_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  if (total + (size_t{256} << 20) > free_b) {
    fail(ErrorCode::kOutOfMemory, "{}: the weights need {} MiB on the GPU, {} MiB of {} MiB are free", m.path(),
         total >> 20, free_b >> 20, total_b >> 20);
  }
  out.arena.reset(total);
  out.bytes = total;
  std::vector<uint8_t> host;
  for (const Item& it : items) {
    uint8_t* dst = out.arena.get<uint8_t>() + it.offset;
    const model::Weight& w = *it.w;
    if (it.matrix && native(w.type) && !split_rows(static_cast<uint32_t>(w.type))) {
      QUARREL_CUDA_CHECK(cudaMemcpy(dst, w.data, w.n_bytes, cudaMemcpyHostToDevice));
    } else if (it.matrix && native(w.type)) {  // rows split for the device (device_rows.h)
      host.resize(it.bytes);
      to_device_rows(static_cast<uint32_t>(w.type), w.cols(), total_rows(w), w.data, host.data());
      QUARREL_CUDA_CHECK(cudaMemcpy(dst, host.data(), it.bytes, cudaMemcpyHostToDevice));
    } else if (!it.matrix && w.type == GgmlType::F32) {
      QUARREL_CUDA_CHECK(cudaMemcpy(dst, w.data, it.bytes, cudaMemcpyHostToDevice));
    } else {
      host.resize(it.bytes);
      host_dequantize(w, host.data(), it.matrix);
      QUARREL_CUDA_CHECK(cudaMemcpy(dst, host.data(), it.bytes, cudaMemcpyHostToDevice));
    }
  }
  auto mat = [&](const model::Weight& w) {
    const Item& it = items[index.at(w.data)];
    const bool nat = native(w.type);
    return DevMatrix{.type = nat ? static_cast<uint32_t>(w.type) : static_cast<uint32_t>(kDevF16),
                     .data = out.arena.get<uint8_t>() + it.offset,
                     .k = w.cols(),
                     .n = w.rows(),
                     .row_bytes = nat ? device_row_bytes(static_cast<uint32_t>(w.type), w.cols())
                                      : static_cast<size_t>(w.cols()) * 2};
  };
  auto vec = [&](const model::Weight& w) -> const float* {
    if (!w) return nullptr;
    return reinterpret_cast<const float*>(out.arena.get<uint8_t>() + items[index.at(w.data)].offset);
  };
  out.token_embd = mat(m.token_embd());
  out.output = mat(m.output());
  out.output_norm = vec(m.output_norm());
  // Rows [r0, r0 + n) of a matrix: the parts of a fused projection.
  auto rows = [](DevMatrix w, int64_t r0, int64_t n) {
    w.data = static_cast<const uint8_t*>(w.data) + static_cast<size_t>(r0) * w.row_bytes;
    w.n = n;
    return w;
  };
  out.layers.clear();
  for (const model::LayerWeights& l : m.layers()) {
    DevLayer d{.wo = mat(l.wo), .down = mat(l.ffn_down),
               .attn_norm = vec(l.attn_norm), .ffn_norm = vec(l.ffn_norm),
               .bq = vec(l.bq), .bk = vec(l.bk), .bv = vec(l.bv),
               .q_norm = vec(l.q_norm), .k_norm = vec(l.k_norm),
               .attn_post_norm = vec(l.attn_post_norm), .ffn_post_norm = vec(l.ffn_post_norm)};
    if (l.wqkv) {  // Q rows, then K, then V
      const DevMatrix qkv = mat(l.wqkv);
      d.wq = rows(qkv, 0, hp.n_embd_q());
      d.wk = rows(qkv, hp.n_embd_q(), hp.n_embd_k_gqa());
      d.wv = rows(qkv, hp.n_embd_q() + hp.n_embd_k_gqa(), hp.n_embd_v_gqa());
    } else {
      d.wq = mat(l.wq), d.wk = mat(l.wk), d.wv = mat(l.wv);
    }
    if (l.ffn_gate) {
      d.gate = mat(l.ffn_gate), d.up = mat(l.ffn_up);
    } else {  // fused: ffn_up holds the gate rows, then the up rows
      const DevMatrix gu = mat(l.ffn_up);
      d.gate = rows(gu, 0, gu.n / 2);
      d.up = rows(gu, gu.n / 2, gu.n / 2);
    }
    out.layers.push_back(d);
  }
}

}  // namespace quarrel::cuda
