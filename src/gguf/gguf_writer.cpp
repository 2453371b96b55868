#include "gguf/gguf_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "core/error.h"
#include "gguf/keys.h"
#include "gguf/utf8.h"

namespace quarrel::gguf {
namespace {

constexpr uint32_t kWriteVersion = 3;

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof(T));
  std::memcpy(out.data() + at, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  out.insert(out.end(), s.begin(), s.end());
}

// A value without its type tag (arrays carry their element type and count).
void put_value(std::vector<uint8_t>& out, const Value& v) {
  switch (v.type()) {
    case ValueType::kString: put_string(out, v.as_string()); return;
    case ValueType::kArray:
      put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
      put<uint64_t>(out, v.size());
      for (const auto& it : v.items()) put_value(out, it);
      return;
    default: {
      const uint64_t bits = v.raw_bits();
      const size_t n = scalar_size(v.type());
      const size_t at = out.size();
      out.resize(at + n);
      std::memcpy(out.data() + at, &bits, n);  // little-endian host
      return;
    }
  }
}

void check_alignment_value(const Value& v) {
  if (!v.is_integer() || v.as_float() <= 0 || !std::has_single_bit(v.as_uint()))
    fail(ErrorCode::kInvalidArgument, "general.alignment must be a nonzero power of two, found {} {}",
         value_type_name(v.type()), v.to_display());
}

bool all_zero(const uint8_t* p, size_t n) { return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0); }

// Appends bytes to a file descriptor, turning runs of zeros into holes.
class FdSink {
 public:
  FdSink(int fd, const std::string& path) : fd_(fd), path_(path) {}
  void write(const uint8_t* p, uint64_t n) {
    constexpr uint64_t kChunk = 1 << 16;
    while (n > 0) {
      const uint64_t k = std::min(n, kChunk);
      if (all_zero(p, k)) {
        pos_ += k;
      } else {
        flush_seek();
        write_all(p, k);
      }
      p += k;
      n -= k;
    }
  }
  void skip_zeros(uint64_t n) { pos_ += n; }
  void finish() {
    if (::ftruncate(fd_, static_cast<off_t>(pos_)) != 0) io_fail("cannot set the file size");
  }

 private:
  void flush_seek() {
    if (file_pos_ != pos_) {
      if (::lseek(fd_, static_cast<off_t>(pos_), SEEK_SET) < 0) io_fail("cannot seek");
      file_pos_ = pos_;
    }
  }
  void write_all(const uint8_t* p, uint64_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, std::min<uint64_t>(n, 1 << 30));
      if (w < 0) {
        if (errno == EINTR) continue;
        io_fail("cannot write");
      }
      p += w;
      n -= static_cast<uint64_t>(w);
      pos_ += static_cast<uint64_t>(w);
      file_pos_ = pos_;
    }
  }
  [[noreturn]] void io_fail(const char* what) {
    fail(ErrorCode::kIo, "{}: {}: {}", path_, what, std::strerror(errno));
  }
  int fd_;
  const std::string& path_;
  uint64_t pos_ = 0;       // logical end of what has been written
  uint64_t file_pos_ = 0;  // the descriptor's position
};

}  // namespace

void GgufWriter::set(std::string key, Value v) {
  if (key.empty()) fail(ErrorCode::kInvalidArgument, "metadata key must not be empty");
  if (!is_valid_utf8(key)) fail(ErrorCode::kInvalidArgument, "metadata key is not valid UTF-8");
  if (key == keys::kGeneralAlignment) {
    check_alignment_value(v);
    alignment_ = v.as_uint();
  }
  for (auto& [k, old] : metadata_)
    if (k == key) {
      old = std::move(v);
      return;
    }
  metadata_.emplace_back(std::move(key), std::move(v));
}

void GgufWriter::remove(std::string_view key) {
  std::erase_if(metadata_, [&](const auto& kv) { return kv.first == key; });
  if (key == keys::kGeneralAlignment) alignment_ = kDefaultAlignment;
}

const Value* GgufWriter::find(std::string_view key) const {
  for (const auto& [k, v] : metadata_)
    if (k == key) return &v;
  return nullptr;
}

void GgufWriter::copy_metadata_from(const GgufFile& f) {
  for (const auto& [k, v] : f.metadata()) set(k, v);
  if (!f.has(keys::kGeneralAlignment)) set_alignment(kDefaultAlignment);
}

void GgufWriter::set_alignment(uint64_t alignment) {
  if (alignment == 0 || !std::has_single_bit(alignment) || alignment > (1ull << 31))
    fail(ErrorCode::kInvalidArgument, "alignment must be a nonzero power of two (at most 2^31), got {}", alignment);
  if (alignment == kDefaultAlignment) {
    remove(keys::kGeneralAlignment);
  } else {
    set(std::string(keys::kGeneralAlignment), Value::u32(static_cast<uint32_t>(alignment)));
  }
  alignment_ = alignment;
}

void GgufWriter::add(std::string name, GgmlType type, std::vector<uint64_t> shape, std::vector<uint8_t> data,
                     Fill fill) {
  if (name.empty()) fail(ErrorCode::kInvalidArgument, "tensor name must not be empty");
  if (!is_valid_utf8(name)) fail(ErrorCode::kInvalidArgument, "tensor name is not valid UTF-8");
  for (const auto& t : tensors_)
    if (t.info.name == name) fail(ErrorCode::kInvalidArgument, "duplicate tensor name '{}'", name);
  uint64_t n_bytes = 0;
  const std::string problem = check_tensor_shape(type, shape, &n_bytes);
  if (!problem.empty()) fail(ErrorCode::kInvalidArgument, "tensor '{}' {}", name, problem);
  if (!fill && data.size() != n_bytes)
    fail(ErrorCode::kInvalidArgument, "tensor '{}' ({} {}): {} bytes of data, expected {}", name, type_name(type),
         format_shape(shape), data.size(), n_bytes);
  PendingTensor t;
  t.info.name = std::move(name);
  t.info.type = type;
  t.info.shape = std::move(shape);
  t.data = std::move(data);
  t.fill = std::move(fill);
  tensors_.push_back(std::move(t));
}

void GgufWriter::add_tensor(std::string name, GgmlType type, std::vector<uint64_t> shape, std::vector<uint8_t> data) {
  add(std::move(name), type, std::move(shape), std::move(data), nullptr);
}

void GgufWriter::add_tensor_lazy(std::string name, GgmlType type, std::vector<uint64_t> shape, Fill fill) {
  if (!fill) fail(ErrorCode::kInvalidArgument, "tensor '{}': empty fill function", name);
  add(std::move(name), type, std::move(shape), {}, std::move(fill));
}

std::vector<uint64_t> GgufWriter::offsets() const {
  std::vector<uint64_t> out;
  uint64_t at = 0;
  for (const auto& t : tensors_) {
    out.push_back(at);
    at = align_up(at + t.info.n_bytes(), alignment_);
  }
  return out;
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, 0x46554747u);  // "GGUF"
  put<uint32_t>(out, kWriteVersion);
  put<uint64_t>(out, tensors_.size());
  put<uint64_t>(out, metadata_.size());
  for (const auto& [k, v] : metadata_) {
    put_string(out, k);
    put<uint32_t>(out, static_cast<uint32_t>(v.type()));
    put_value(out, v);
  }
  const auto offs = offsets();
  for (size_t i = 0; i < tensors_.size(); ++i) {
    const auto& t = tensors_[i].info;
    put_string(out, t.name);
    put<uint32_t>(out, static_cast<uint32_t>(t.shape.size()));
    for (auto d : t.shape) put<uint64_t>(out, d);
    put<uint32_t>(out, static_cast<uint32_t>(t.type));
    put<uint64_t>(out, offs[i]);
  }
  // The data section starts aligned; a file without tensors ends here, unpadded (as the
  // Python gguf writer leaves vocab-only files).
  if (!tensors_.empty()) out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  for (const auto& t : tensors_) {
    const uint64_t n = t.info.n_bytes();
    const size_t at = out.size();
    out.resize(at + n, 0);
    if (t.fill)
      t.fill(out.data() + at, n);
    else
      std::memcpy(out.data() + at, t.data.data(), n);
    out.resize(align_up(out.size(), alignment_), 0);
  }
  return out;
}

void GgufWriter::write(const std::string& path) const {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::string tmp = (dir / fmt::format(".{}.tmp.XXXXXX", target.filename().string())).string();
  const int fd = ::mkstemp(tmp.data());
  if (fd < 0) fail(ErrorCode::kIo, "{}: cannot create a temporary file in {}: {}", path, dir.string(), std::strerror(errno));
  bool closed = false;
  try {
    ::fchmod(fd, 0644);
    FdSink sink(fd, path);
    const auto header = header_bytes();
    sink.write(header.data(), header.size());
    std::vector<uint8_t> buf;
    for (const auto& t : tensors_) {
      const uint64_t n = t.info.n_bytes();
      if (t.fill) {
        buf.assign(n, 0);
        t.fill(buf.data(), n);
        sink.write(buf.data(), n);
      } else {
        sink.write(t.data.data(), n);
      }
      sink.skip_zeros(align_up(n, alignment_) - n);
    }
    buf.clear();
    buf.shrink_to_fit();
    sink.finish();
    if (::fsync(fd) != 0) fail(ErrorCode::kIo, "{}: cannot sync: {}", path, std::strerror(errno));
    closed = true;
    if (::close(fd) != 0) fail(ErrorCode::kIo, "{}: cannot close: {}", path, std::strerror(errno));
  } catch (...) {
    if (!closed) ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmp.c_str());
    fail(ErrorCode::kIo, "{}: cannot rename the temporary file into place: {}", path, std::strerror(e));
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace quarrel::gguf
