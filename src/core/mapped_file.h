#pragma once
// A read-only memory map of a whole file. Model weights are used in place from it: nothing is
// copied, so the page cache holds the only copy.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace quarrel {

class MappedFile {
 public:
  // Throws Error(kIo / kNotFound) naming the path when the file cannot be opened or mapped.
  static MappedFile open(const std::string& path);

  MappedFile() = default;
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace quarrel
