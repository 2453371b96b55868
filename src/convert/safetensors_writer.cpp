#include "convert/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/fp16.h"

namespace quarrel::convert {
namespace {

const char* dtype_name(StDtype t) {
  switch (t) {
    case StDtype::kF32: return "F32";
    case StDtype::kF16: return "F16";
    case StDtype::kBF16: return "BF16";
    default: return nullptr;
  }
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

void SafetensorsWriter::add(std::string name, StDtype dtype, std::vector<int64_t> shape, Fill fill) {
  if (!dtype_name(dtype)) fail(ErrorCode::kInvalidArgument, "safetensors writer: tensor '{}': only F32, F16 and BF16", name);
  for (const auto& t : tensors_)
    if (t.name == name) fail(ErrorCode::kInvalidArgument, "safetensors writer: tensor '{}' added twice", name);
  for (int64_t d : shape)
    if (d < 0) fail(ErrorCode::kInvalidArgument, "safetensors writer: tensor '{}' has a negative dimension", name);
  tensors_.push_back({std::move(name), dtype, std::move(shape), std::move(fill)});
}

void SafetensorsWriter::write(const std::string& path) const {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!metadata_.empty()) {
    nlohmann::ordered_json m = nlohmann::ordered_json::object();
    for (const auto& [k, v] : metadata_) m[k] = v;
    h["__metadata__"] = m;
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    const uint64_t bytes = static_cast<uint64_t>(n) * st_dtype_size(t.dtype);
    h[t.name] = {{"dtype", dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header = h.dump();
  header.resize((header.size() + 7) / 8 * 8, ' ');

  const std::string tmp = path + ".tmp";
  try {
    write_body(tmp, header);
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    fail(ErrorCode::kIo, "{}: cannot rename the temp file into place", path);
  }
}

void SafetensorsWriter::write_body(const std::string& tmp, const std::string& header) const {
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
  if (!f) fail(ErrorCode::kIo, "{}: cannot create: {}", tmp, std::strerror(errno));
  auto put = [&](const void* p, size_t n) {
    if (n && std::fwrite(p, 1, n, f.get()) != n) fail(ErrorCode::kIo, "{}: cannot write: {}", tmp, std::strerror(errno));
  };
  uint8_t len[8];
  uint64_t hl = header.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(hl >> (8 * i));
  put(len, 8);
  put(header.data(), header.size());

  constexpr int64_t kChunk = int64_t{1} << 20;
  std::vector<float> buf;
  std::vector<uint16_t> half;
  for (const auto& t : tensors_) {
    int64_t n = 1;
    for (int64_t d : t.shape) n *= d;
    for (int64_t first = 0; first < n; first += kChunk) {
      const int64_t k = std::min(kChunk, n - first);
      buf.assign(static_cast<size_t>(k), 0.0f);
      t.fill(first, k, buf.data());
      if (t.dtype == StDtype::kF32) {
        put(buf.data(), static_cast<size_t>(k) * 4);
      } else {
        half.resize(static_cast<size_t>(k));
        for (int64_t i = 0; i < k; ++i)
          half[static_cast<size_t>(i)] =
              t.dtype == StDtype::kF16 ? f32_to_fp16(buf[static_cast<size_t>(i)]) : f32_to_bf16(buf[static_cast<size_t>(i)]);
        put(half.data(), static_cast<size_t>(k) * 2);
      }
    }
  }
  if (std::fflush(f.get()) != 0) fail(ErrorCode::kIo, "{}: cannot write: {}", tmp, std::strerror(errno));
}

}  // namespace quarrel::convert
