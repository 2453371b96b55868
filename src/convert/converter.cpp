#include "convert/converter.h"

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "convert/checkpoint.h"
#include "convert/convert_arch.h"
#include "convert/tokenizer_metadata.h"
#include "core/error.h"
#include "core/thread_pool.h"
#include "gguf/keys.h"
#include "quant/quant.h"
#include "quant/quantize_model.h"

namespace quarrel::convert {
namespace fs = std::filesystem;
namespace {

namespace k = gguf::keys;

// What --type names: the plain float types, or a quantization mix.
struct FileType {
  std::string name;                      // "F32", "Q8_0"
  uint32_t file_type = 0;                // general.file_type
  const quant::QuantMix* mix = nullptr;  // null for F32
};

FileType resolve_type(std::string type, const ConvertPlan& plan) {
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type == "auto") {
    type = "f16";
    for (const auto& t : plan.tensors) {
      if (t.sources.empty() || t.shape.size() < 2) continue;
      if (t.sources[0]->dtype == StDtype::kBF16) type = "bf16";
      break;
    }
  }
  if (type == "f32") return {"F32", 0, nullptr};
  const quant::QuantMix* mix = quant::find_mix(type);
  if (!mix) fail(ErrorCode::kInvalidArgument, "unknown --type '{}'; valid types: {}", type, convert_type_names());
  return {std::string(mix->name), mix->file_type, mix};
}

// Elements per thread between progress reports.
constexpr int64_t kSliceElementsPerThread = int64_t{1} << 20;
// Rows read from the checkpoint at a time by one thread.
constexpr int64_t kRowsPerRead = 64;

// Fills dst with the tensor's rows [r0, r1) in `type`.
void convert_rows(const OutputTensor& t, GgmlType type, int64_t r0, int64_t r1, uint8_t* dst, std::vector<float>& buf) {
  const int64_t ne0 = static_cast<int64_t>(t.shape[0]);
  const uint64_t out_row = row_bytes(type, static_cast<uint64_t>(ne0));
  for (int64_t r = r0; r < r1; r += kRowsPerRead) {
    const int64_t n = std::min(kRowsPerRead, r1 - r);
    buf.resize(static_cast<size_t>(n * ne0));
    t.read(r * ne0, n * ne0, buf.data());
    for (int64_t i = 0; i < n; ++i) {
      uint8_t* d = dst + static_cast<uint64_t>(r + i) * out_row;
      const float* s = buf.data() + i * ne0;
      if (type == GgmlType::F32) std::memcpy(d, s, static_cast<size_t>(ne0) * sizeof(float));
      else quant::quantize_row(type, s, d, ne0);
    }
  }
}

std::string model_name(const HfCheckpoint& ckpt) {
  const auto& j = ckpt.config().raw();
  if (j.contains("_name_or_path") && j["_name_or_path"].is_string()) {
    std::string n = j["_name_or_path"].get<std::string>();
    if (!n.empty()) return fs::path(n).filename().string().empty() ? n : fs::path(n).filename().string();
  }
  fs::path p = fs::path(ckpt.dir()).lexically_normal();
  if (p.filename().empty()) p = p.parent_path();
  const std::string n = fs::absolute(p).filename().string();
  return n.empty() ? "model" : n;
}

}  // namespace

std::string convert_type_names() {
  std::string s = "auto, f32";
  for (const auto& m : quant::quant_mixes()) {
    std::string n(m.name);
    std::transform(n.begin(), n.end(), n.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    s += ", " + n;
  }
  return s;
}

ConvertResult convert_hf(const std::string& hf_dir, const std::string& out_path, const ConvertOptions& options) {
  if (out_path.empty()) fail(ErrorCode::kInvalidArgument, "no output path given");
  if (options.n_threads < 0) fail(ErrorCode::kInvalidArgument, "--threads must be positive, got {}", options.n_threads);
  {
    std::error_code ec;
    const fs::path parent = fs::absolute(out_path).parent_path();
    if (!fs::is_directory(parent, ec))
      fail(ErrorCode::kNotFound, "{}: the output directory {} does not exist", out_path, parent.string());
    if (fs::is_directory(out_path, ec))
      fail(ErrorCode::kInvalidArgument, "{}: is a directory; give the output file's name (e.g. model.gguf)", out_path);
  }
  const HfCheckpoint ckpt = HfCheckpoint::open(hf_dir);
  const ConvertPlan plan = plan_conversion(ckpt);
  const FileType ft = resolve_type(options.type, plan);
  const auto tok = tokenizer_metadata(ckpt, plan.n_vocab);

  // Output types: the mix's choices (tensors it leaves alone stay F32, as llama.cpp writes them).
  std::vector<quant::TensorDesc> descs;
  for (const auto& t : plan.tensors) descs.push_back({t.name, t.shape, GgmlType::F32});
  std::vector<quant::TypeChoice> types(descs.size(), quant::TypeChoice{GgmlType::F32, false});
  if (ft.mix) types = quant::choose_types(*ft.mix, plan.shape, descs);

  gguf::GgufWriter w;
  w.set(std::string(k::kGeneralArchitecture), gguf::Value::string(plan.arch));
  w.set("general.type", gguf::Value::string("model"));
  w.set(std::string(k::kGeneralName), gguf::Value::string(options.name.empty() ? model_name(ckpt) : options.name));
  for (const auto& [key, v] : plan.metadata) w.set(key, v);
  w.set(std::string(k::kGeneralFileType), gguf::Value::u32(ft.file_type));
  w.set(std::string(k::kGeneralQuantizationVersion), gguf::Value::u32(quant::kQuantizationVersion));
  tokenizer::set_gguf_metadata(w, tok);

  ConvertResult result;
  result.hf_arch = plan.hf_arch;
  result.arch = plan.arch;
  result.file_type = ft.name;
  uint64_t total = 0;
  for (const auto& t : plan.tensors) total += t.n_elements();
  result.n_parameters = total;

  ThreadPool pool(options.n_threads);
  std::vector<std::vector<float>> bufs(static_cast<size_t>(pool.size()));
  uint64_t done = 0;
  const size_t n = plan.tensors.size();
  for (size_t i = 0; i < n; ++i) {
    const OutputTensor* t = &plan.tensors[i];
    const GgmlType type = types[i].type;
    result.tensors.push_back({t->name, t->shape, type});
    result.n_fallback += types[i].fallback;
    const uint64_t bytes = t->n_elements() / t->shape[0] * row_bytes(type, t->shape[0]);
    result.bytes_out += bytes;
    w.add_tensor_lazy(t->name, type, t->shape, [&, t, type, i, bytes](uint8_t* dst, uint64_t n_bytes) {
      QUARREL_ASSERT(n_bytes == bytes);
      const auto ne0 = static_cast<int64_t>(t->shape[0]);
      const auto n_rows = static_cast<int64_t>(t->n_elements()) / ne0;
      const int64_t slice = std::max<int64_t>(pool.size(), kSliceElementsPerThread * pool.size() / ne0);
      for (int64_t r0 = 0; r0 < n_rows; r0 += slice) {
        const int64_t r1 = std::min(n_rows, r0 + slice);
        pool.parallel_for(static_cast<size_t>(r1 - r0), [&](size_t b, size_t e, int thread) {
          convert_rows(*t, type, r0 + static_cast<int64_t>(b), r0 + static_cast<int64_t>(e), dst,
                       bufs[static_cast<size_t>(thread)]);
        });
        if (options.progress)
          options.progress({i, n, &t->name, type, done + static_cast<uint64_t>(r1 * ne0), total});
      }
      done += t->n_elements();
    });
  }
  w.write(out_path);
  return result;
}

}  // namespace quarrel::convert
