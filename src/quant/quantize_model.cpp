#include "quant/quantize_model.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "quant/quant.h"

namespace quarrel::quant {
namespace fs = std::filesystem;
namespace {

bool is_quantized(GgmlType t) { return traits(t).block_size > 1; }

// About this many elements per thread between two progress reports.
constexpr int64_t kSliceElementsPerThread = int64_t{1} << 20;

// Rows [r0, r1) of a tensor from `from` to `to`; tmp holds one row of floats.
void convert_range(GgmlType from, const uint8_t* src, GgmlType to, uint8_t* dst, int64_t r0, int64_t r1,
                   int64_t n_per_row, std::vector<float>& tmp) {
  const uint64_t in_row = row_bytes(from, static_cast<uint64_t>(n_per_row));
  const uint64_t out_row = row_bytes(to, static_cast<uint64_t>(n_per_row));
  tmp.resize(static_cast<size_t>(n_per_row));
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* s = src + static_cast<uint64_t>(r) * in_row;
    uint8_t* d = dst + static_cast<uint64_t>(r) * out_row;
    const float* f;
    if (from == GgmlType::F32) {
      f = reinterpret_cast<const float*>(s);
    } else {
      dequantize_row(from, s, tmp.data(), n_per_row);
      f = tmp.data();
    }
    quantize_row(to, f, d, n_per_row);
  }
}

void convert_rows_impl(GgmlType from, const void* src, GgmlType to, void* dst, int64_t n_rows, int64_t n_per_row,
                       ThreadPool& pool, const std::function<void(int64_t rows_done)>& on_slice) {
  std::vector<std::vector<float>> tmp(static_cast<size_t>(pool.size()));
  const int64_t slice_rows =
      std::max<int64_t>(pool.size(), kSliceElementsPerThread * pool.size() / std::max<int64_t>(n_per_row, 1));
  const auto* s = static_cast<const uint8_t*>(src);
  auto* d = static_cast<uint8_t*>(dst);
  for (int64_t r0 = 0; r0 < n_rows; r0 += slice_rows) {
    const int64_t r1 = std::min(n_rows, r0 + slice_rows);
    pool.parallel_for(static_cast<size_t>(r1 - r0), [&](size_t b, size_t e, int thread) {
      convert_range(from, s, to, d, r0 + static_cast<int64_t>(b), r0 + static_cast<int64_t>(e), n_per_row,
                    tmp[static_cast<size_t>(thread)]);
    });
    if (on_slice) on_slice(r1);
  }
}

void check_convertible(const TensorPlan& p, bool allow_requantize) {
  if (p.from == p.to) return;
  if (!can_dequantize(p.from))
    fail(ErrorCode::kUnsupported, "tensor '{}' has type {}, which Quarrel cannot convert to {}", p.name,
         type_name(p.from), type_name(p.to));
  if (is_quantized(p.from) && !allow_requantize)
    fail(ErrorCode::kUnsupported,
         "tensor '{}' is already quantized ({}); requantizing it to {} loses quality (allow it with "
         "--allow-requantize)",
         p.name, type_name(p.from), type_name(p.to));
  if (!can_quantize(p.to))
    fail(ErrorCode::kUnsupported, "tensor '{}': cannot quantize to {}", p.name, type_name(p.to));
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::exists(b, ec) && fs::equivalent(a, b, ec)) return true;
  // A path that does not exist yet can still name the input (e.g. through a dangling link
  // target); compare the normalized absolute paths as well.
  const auto na = fs::weakly_canonical(fs::absolute(a), ec);
  const auto nb = fs::weakly_canonical(fs::absolute(b), ec);
  return !ec && na == nb;
}

}  // namespace

std::vector<TensorPlan> plan_quantization(const gguf::GgufFile& in, const QuantMix& mix, bool allow_requantize) {
  std::vector<TensorDesc> descs;
  descs.reserve(in.tensors().size());
  for (const auto& t : in.tensors()) descs.push_back({t.name, t.shape, t.type});
  const auto order = quantization_order(descs);
  std::vector<TensorDesc> ordered;
  ordered.reserve(descs.size());
  for (size_t i : order) ordered.push_back(descs[i]);
  const auto choices = choose_types(mix, ModelShape::from_gguf(in), ordered);

  std::vector<TensorPlan> plan;
  plan.reserve(ordered.size());
  for (size_t i = 0; i < ordered.size(); ++i) {
    const auto& info = in.tensors()[order[i]];
    TensorPlan p;
    p.name = info.name;
    p.shape = info.shape;
    p.from = info.type;
    p.to = choices[i].type;
    p.fallback = choices[i].fallback;
    p.n_elements = info.n_elements();
    p.in_bytes = info.n_bytes();
    p.out_bytes = p.n_elements / info.shape[0] * row_bytes(p.to, info.shape[0]);
    check_convertible(p, allow_requantize);
    plan.push_back(std::move(p));
  }
  return plan;
}

void convert_rows(GgmlType from, const void* src, GgmlType to, void* dst, int64_t n_rows, int64_t n_per_row,
                  int n_threads) {
  ThreadPool pool(n_threads);
  convert_rows_impl(from, src, to, dst, n_rows, n_per_row, pool, nullptr);
}

QuantizeResult quantize_model(const std::string& in_path, const std::string& out_path, const QuantMix& mix,
                              const QuantizeOptions& options) {
  if (out_path.empty()) fail(ErrorCode::kInvalidArgument, "no output path given");
  if (options.n_threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be positive, got {}", options.n_threads);
  if (!fs::exists(in_path)) fail(ErrorCode::kNotFound, "{}: no such file", in_path);
  if (same_file(in_path, out_path))
    fail(ErrorCode::kInvalidArgument, "refusing to overwrite the input file {} (choose another output path)", out_path);

  const auto in = gguf::GgufFile::open(in_path);
  QuantizeResult result;
  result.plan = plan_quantization(in, mix, options.allow_requantize);

  gguf::GgufWriter w;
  w.copy_metadata_from(in);
  for (const char* k : {"split.no", "split.count", "split.tensors.count"}) w.remove(k);
  // As llama.cpp does: both keys removed and appended, quantization_version first.
  w.remove("general.quantization_version");
  w.remove("general.file_type");
  w.set("general.quantization_version", gguf::Value::u32(kQuantizationVersion));
  w.set("general.file_type", gguf::Value::u32(mix.file_type));

  uint64_t total = 0;
  for (const auto& p : result.plan) total += p.n_elements;

  ThreadPool pool(options.n_threads);
  uint64_t done = 0;
  const size_t n = result.plan.size();
  for (size_t i = 0; i < n; ++i) {
    const TensorPlan* p = &result.plan[i];
    const auto* info = in.find_tensor(p->name);
    QUARREL_ASSERT(info != nullptr);
    result.bytes_in += p->in_bytes;
    result.bytes_out += p->out_bytes;
    result.n_fallback += p->fallback;
    result.n_converted += p->from != p->to;
    // Runs when the writer asks for the tensor's bytes, on this thread, in plan order.
    w.add_tensor_lazy(p->name, p->to, p->shape, [&in, &pool, &options, &done, total, n, i, p, info](uint8_t* dst,
                                                                                                     uint64_t n_bytes) {
      QUARREL_ASSERT(n_bytes == p->out_bytes);
      auto report = [&](uint64_t elements_in_tensor) {
        if (!options.progress) return;
        QuantizeProgress pr;
        pr.tensor_index = i;
        pr.n_tensors = n;
        pr.tensor = p;
        pr.elements_done = done + elements_in_tensor;
        pr.elements_total = total;
        options.progress(pr);
      };
      const auto src = in.tensor_data(*info);
      if (p->from == p->to) {
        std::memcpy(dst, src.data(), n_bytes);
      } else {
        const auto n_per_row = static_cast<int64_t>(p->shape[0]);
        const auto n_rows = static_cast<int64_t>(p->n_elements / p->shape[0]);
        convert_rows_impl(p->from, src.data(), p->to, dst, n_rows, n_per_row, pool,
                          [&](int64_t rows_done) { report(static_cast<uint64_t>(rows_done * n_per_row)); });
      }
      done += p->n_elements;
      report(0);
    });
  }
  w.write(out_path);
  return result;
}

}  // namespace quarrel::quant
