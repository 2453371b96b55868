// Safetensors: what the writer writes the reader reads back (F32, F16, BF16), and every kind
// of broken or hostile header is a one-line Error naming the file and the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "common/random.h"
#include "common/test_data.h"
#include "convert/safetensors.h"
#include "convert/safetensors_writer.h"
#include "core/error.h"
#include "core/fp16.h"

namespace quarrel::convert {
namespace {

namespace fs = std::filesystem;

std::vector<uint8_t> bytes_of(const std::string& header, size_t data_bytes, uint64_t declared_len = UINT64_MAX) {
  const uint64_t n = declared_len == UINT64_MAX ? header.size() : declared_len;
  std::vector<uint8_t> b(8 + header.size() + data_bytes, 0);
  for (size_t i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(n >> (8 * i));
  std::copy(header.begin(), header.end(), b.begin() + 8);
  return b;
}

// The parse error's message, or "" when it parsed.
std::string parse_error(const std::vector<uint8_t>& b) {
  try {
    SafetensorsFile::parse(b, "bad.safetensors");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    return e.what();
  }
  return "";
}

TEST(Safetensors, WriterRoundTripsEveryFloatType) {
  std::mt19937_64 rng(test::test_seed());
  const auto dir = test::temp_dir("quarrel-st");
  const auto values = test::random_floats(rng, 6 * 7, -3.0f, 3.0f);
  SafetensorsWriter w;
  w.set_metadata("format", "pt");
  for (auto [name, dt] : {std::pair{"a.f32", StDtype::kF32}, std::pair{"b.f16", StDtype::kF16}, std::pair{"c.bf16", StDtype::kBF16}})
    w.add(name, dt, {6, 7}, [&](int64_t first, int64_t n, float* dst) {
      std::memcpy(dst, values.data() + first, static_cast<size_t>(n) * 4);
    });
  w.add("d.scalar", StDtype::kF32, {}, [](int64_t, int64_t, float* dst) { dst[0] = 5.0f; });
  const std::string path = (dir / "m.safetensors").string();
  w.write(path);

  const auto f = SafetensorsFile::open(path);
  ASSERT_EQ(f.tensors().size(), 4u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  std::vector<float> got(42);
  for (const char* name : {"a.f32", "b.f16", "c.bf16"}) {
    const auto* t = f.find(name);
    ASSERT_NE(t, nullptr) << name;
    EXPECT_EQ(t->shape, (std::vector<int64_t>{6, 7}));
    EXPECT_EQ(t->row_length(), 7);
    EXPECT_EQ(t->n_rows(), 6);
    read_as_f32(*t, 0, 42, got.data());
    for (size_t i = 0; i < 42; ++i) {
      const float want = t->dtype == StDtype::kF32   ? values[i]
                         : t->dtype == StDtype::kF16 ? fp16_to_f32(f32_to_fp16(values[i]))
                                                     : bf16_to_f32(f32_to_bf16(values[i]));
      EXPECT_EQ(got[i], want) << name << " " << i;
    }
  }
  // A slice from the middle.
  read_as_f32(*f.find("a.f32"), 10, 5, got.data());
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(got[i], values[10 + i]);
  const auto* s = f.find("d.scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->n_elements(), 1);
  read_as_f32(*s, 0, 1, got.data());
  EXPECT_EQ(got[0], 5.0f);
  fs::remove_all(dir);
}

TEST(Safetensors, HeaderIsPaddedToEightBytes) {
  const auto dir = test::temp_dir("quarrel-st");
  SafetensorsWriter w;
  w.add("x", StDtype::kF32, {3}, [](int64_t, int64_t n, float* d) { std::fill(d, d + n, 1.0f); });
  w.write((dir / "x.safetensors").string());
  const std::string b = test::read_file(dir / "x.safetensors");
  uint64_t n = 0;
  std::memcpy(&n, b.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  EXPECT_EQ(b.size(), 8 + n + 12);
  fs::remove_all(dir);
}

TEST(Safetensors, UnsupportedDtypeIsNamedWhenRead) {
  const auto b = bytes_of(R"({"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16);
  const auto f = SafetensorsFile::parse(b, "m.safetensors");
  float x[2];
  try {
    read_as_f32(*f.find("ids"), 0, 2, x);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kUnsupported);
    EXPECT_NE(std::string(e.what()).find("'ids' has dtype I64"), std::string::npos) << e.what();
  }
}

TEST(Safetensors, TruncatedFiles) {
  EXPECT_NE(parse_error({}).find("shorter than the 8-byte header length"), std::string::npos);
  EXPECT_NE(parse_error({1, 2, 3}).find("shorter than the 8-byte header length"), std::string::npos);
  const std::string h = R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})";
  EXPECT_NE(parse_error(bytes_of(h, 8)).find("run past the end of the data"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of(h, 0, h.size() + 100)).find("runs past the end of the file"), std::string::npos);
}

TEST(Safetensors, HostileHeaderLengths) {
  EXPECT_NE(parse_error(bytes_of("{}", 0, uint64_t{1} << 40)).find("over the 100 MiB limit"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of("{}", 0, UINT64_MAX - 1)).find("over the 100 MiB limit"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of("{", 0)).find("too short"), std::string::npos);
}

TEST(Safetensors, MalformedJson) {
  EXPECT_NE(parse_error(bytes_of("{\"w\": [1, 2", 0)).find("not valid JSON"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of("[1, 2, 3]", 0)).find("not a JSON object"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of(R"({"w": 5})", 0)).find("entry is not an object"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of(R"({"w": {"shape":[1],"data_offsets":[0,4]}})", 4)).find("'dtype'"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of(R"({"w": {"dtype":"F32","data_offsets":[0,4]}})", 4)).find("'shape'"), std::string::npos);
  EXPECT_NE(parse_error(bytes_of(R"({"w": {"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4)).find("data_offsets"),
            std::string::npos);
  EXPECT_NE(parse_error(bytes_of(R"({"__metadata__": 3})", 0)).find("__metadata__"), std::string::npos);
}

TEST(Safetensors, InconsistentEntries) {
  auto err = [](const std::string& entry, size_t data) { return parse_error(bytes_of("{\"w\":" + entry + "}", data)); };
  EXPECT_NE(err(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4).find("non-negative integer"), std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[1.5],"data_offsets":[0,4]})", 4).find("non-negative integer"), std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[1],"data_offsets":[-4,4]})", 8).find("non-negative integer"), std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[1],"data_offsets":[8,4]})", 8).find("end before they begin"), std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[3],"data_offsets":[0,8]})", 8).find("needs 12 bytes"), std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]})", 4).find("dimensions"),
            std::string::npos);
  // A shape whose element count overflows 64 bits.
  EXPECT_NE(err(R"({"dtype":"F32","shape":[1099511627776,1099511627776,1099511627776],"data_offsets":[0,4]})", 4)
                .find("needs"),
            std::string::npos);
  EXPECT_NE(err(R"({"dtype":"F32","shape":[2000000000000],"data_offsets":[0,4]})", 4).find("absurdly large"),
            std::string::npos);
}

TEST(Safetensors, ErrorsNameTheFile) {
  const auto dir = test::temp_dir("quarrel-st");
  const fs::path p = dir / "broken.safetensors";
  { std::ofstream(p) << "garbage!garbage!"; }
  try {
    SafetensorsFile::open(p.string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("bad safetensors header"), std::string::npos) << e.what();
  }
  EXPECT_THROW(SafetensorsFile::open((dir / "missing.safetensors").string()), Error);
  fs::remove_all(dir);
}

// Random bytes never crash the parser: each either parses or is an Error.
TEST(Safetensors, RandomHeadersNeverCrash) {
  std::mt19937_64 rng(test::test_seed());
  const std::string good = R"({"w":{"dtype":"F16","shape":[2,2],"data_offsets":[0,8]},"__metadata__":{"a":"b"}})";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string h = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) h[rng() % h.size()] = static_cast<char>(rng() % 256);
    const auto b = bytes_of(h, rng() % 12);
    try {
      const auto f = SafetensorsFile::parse(b, "fuzz");
      for (const auto& t : f.tensors()) EXPECT_LE(t.data.size(), b.size());
    } catch (const Error&) {
    }
  }
}

}  // namespace
}  // namespace quarrel::convert
