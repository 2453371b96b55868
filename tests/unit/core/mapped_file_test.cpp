#include "core/mapped_file.h"

#include <gtest/gtest.h>

#include <fstream>

#include "common/test_data.h"
#include "core/error.h"

namespace quarrel {
namespace {

TEST(MappedFile, MapsContents) {
  auto dir = test::temp_dir("qmap");
  auto p = dir / "x.bin";
  std::ofstream(p, std::ios::binary) << "hello";
  auto m = MappedFile::open(p.string());
  ASSERT_EQ(m.size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), m.size()), "hello");
  std::filesystem::remove_all(dir);
}

TEST(MappedFile, MissingFileIsAClearError) {
  try {
    MappedFile::open("/nonexistent/model.gguf");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/model.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace quarrel
