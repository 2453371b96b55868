// Writer -> reader -> writer round trips, typed access and the writer's own checks.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>

#include "common/test_data.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "gguf/keys.h"

namespace quarrel::gguf {
namespace {
namespace fs = std::filesystem;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::vector<uint8_t> iota_bytes(size_t n, uint8_t start = 1) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(start + i * 7);
  return v;
}

// Metadata with every value type, empty and nested arrays.
GgufWriter every_type_writer() {
  GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("t.u8", Value::u8(255));
  w.set("t.i8", Value::i8(-128));
  w.set("t.u16", Value::u16(65535));
  w.set("t.i16", Value::i16(-32768));
  w.set("t.u32", Value::u32(4294967295u));
  w.set("t.i32", Value::i32(-2147483647 - 1));
  w.set("t.f32", Value::f32(3.25f));
  w.set("t.bool", Value::boolean(true));
  w.set("t.string", Value::string("héllo wörld"));
  w.set("t.empty_string", Value::string(""));
  w.set("t.u64", Value::u64(std::numeric_limits<uint64_t>::max()));
  w.set("t.i64", Value::i64(std::numeric_limits<int64_t>::min()));
  w.set("t.f64", Value::f64(-1e300));
  w.set("t.nan", Value::f32(std::nanf("")));
  w.set("t.strings", Value::string_array({"a", "", "ünïcödé", "<0x0A>"}));
  w.set("t.i32s", Value::i32_array({1, -2, 3}));
  w.set("t.f32s", Value::f32_array({0.5f, -0.25f}));
  w.set("t.empty_array", Value::array(ValueType::kU64, {}));
  w.set("t.bools", Value::array(ValueType::kBool, {Value::boolean(false), Value::boolean(true)}));
  w.set("t.nested", Value::array(ValueType::kArray,
                                 {Value::i32_array({1, 2}), Value::string_array({"x"}),
                                  Value::array(ValueType::kArray, {Value::f32_array({1.0f})}),
                                  Value::array(ValueType::kU8, {})}));
  for (auto t : {ValueType::kU8, ValueType::kI8, ValueType::kU16, ValueType::kI16, ValueType::kU32, ValueType::kI32,
                 ValueType::kF32, ValueType::kU64, ValueType::kI64, ValueType::kF64}) {
    Value one = t == ValueType::kF32 ? Value::f32(1) : t == ValueType::kF64 ? Value::f64(1)
              : t == ValueType::kU8  ? Value::u8(1)  : t == ValueType::kI8  ? Value::i8(-1)
              : t == ValueType::kU16 ? Value::u16(1) : t == ValueType::kI16 ? Value::i16(-1)
              : t == ValueType::kU32 ? Value::u32(1) : t == ValueType::kI32 ? Value::i32(-1)
              : t == ValueType::kU64 ? Value::u64(1) : Value::i64(-1);
    w.set(std::string("t.array_of_") + std::string(value_type_name(t)), Value::array(t, {one, one}));
  }
  return w;
}

TEST(GgufRoundTrip, EveryValueType) {
  GgufWriter w = every_type_writer();
  const auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "mem.gguf");
  EXPECT_EQ(f.version(), 3u);
  ASSERT_EQ(f.metadata().size(), w.metadata().size());
  for (size_t i = 0; i < w.metadata().size(); ++i) {
    EXPECT_EQ(f.metadata()[i].first, w.metadata()[i].first);
    EXPECT_TRUE(f.metadata()[i].second == w.metadata()[i].second) << f.metadata()[i].first;
  }
  EXPECT_EQ(f.get_uint("t.u8"), 255u);
  EXPECT_EQ(f.get_int("t.i8"), -128);
  EXPECT_EQ(f.get_int("t.i64"), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(f.get_uint("t.u64"), std::numeric_limits<uint64_t>::max());
  EXPECT_DOUBLE_EQ(f.get_float("t.f32"), 3.25);
  EXPECT_TRUE(f.get_bool("t.bool"));
  EXPECT_EQ(f.get_string("t.string"), "héllo wörld");
  EXPECT_EQ(f.get_string_array("t.strings")[2], "ünïcödé");
  EXPECT_EQ(f.get("t.nested").items()[2].items()[0].as_float_array()[0], 1.0f);
  EXPECT_TRUE(std::isnan(f.get_float("t.nan")));
  // reader -> writer gives the same bytes
  GgufWriter w2;
  w2.copy_metadata_from(f);
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(GgufRoundTrip, TensorsIdenticalBytes) {
  GgufWriter w = every_type_writer();
  w.add_tensor("f32", GgmlType::F32, {3, 2}, iota_bytes(24));
  w.add_tensor("q4k", GgmlType::Q4_K, {256, 2}, iota_bytes(2 * 144));
  w.add_tensor("q8", GgmlType::Q8_0, {64}, iota_bytes(2 * 34));
  w.add_tensor("f16.4d", GgmlType::F16, {2, 3, 1, 5}, iota_bytes(2 * 30));
  w.add_tensor_lazy("lazy", GgmlType::I32, {7}, [](uint8_t* dst, uint64_t n) {
    for (uint64_t i = 0; i < n; ++i) dst[i] = static_cast<uint8_t>(0xA0 + i);
  });
  const auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "mem.gguf");
  ASSERT_EQ(f.tensors().size(), 5u);
  EXPECT_EQ(f.tensors()[1].name, "q4k");
  EXPECT_EQ(f.tensors()[1].type, GgmlType::Q4_K);
  EXPECT_EQ(f.tensors()[1].shape, (std::vector<uint64_t>{256, 2}));
  EXPECT_EQ(f.tensors()[1].n_elements(), 512u);
  EXPECT_EQ(f.tensors()[1].n_bytes(), 288u);
  for (const auto& t : f.tensors()) {
    EXPECT_EQ(t.offset % f.alignment(), 0u) << t.name;
    EXPECT_EQ((f.data_offset() + t.offset) % f.alignment(), 0u) << t.name;
  }
  const auto d = f.tensor_data(f.tensor("q8"));
  EXPECT_EQ(std::vector<uint8_t>(d.begin(), d.end()), iota_bytes(68));
  const auto lz = f.tensor_data(f.tensor("lazy"));
  ASSERT_EQ(lz.size(), 28u);
  EXPECT_EQ(lz[27], 0xA0 + 27);
  EXPECT_EQ(f.tensor_data(f.tensor("f32")).data(), bytes.data() + f.data_offset());  // no copy

  GgufWriter w2;
  w2.copy_metadata_from(f);
  for (const auto& t : f.tensors()) {
    auto s = f.tensor_data(t);
    w2.add_tensor(t.name, t.type, t.shape, {s.begin(), s.end()});
  }
  EXPECT_EQ(w2.to_bytes(), bytes);
}

TEST(GgufRoundTrip, CustomAlignment) {
  for (uint64_t a : {1ull, 8ull, 64ull, 4096ull}) {
    GgufWriter w;
    w.set("general.architecture", Value::string("x"));
    w.set_alignment(a);
    w.add_tensor("a", GgmlType::F32, {3}, iota_bytes(12));
    w.add_tensor("b", GgmlType::F32, {5}, iota_bytes(20));
    const auto bytes = w.to_bytes();
    auto f = GgufFile::parse(bytes, "mem.gguf");
    EXPECT_EQ(f.alignment(), a);
    EXPECT_EQ(f.has(keys::kGeneralAlignment), a != 32);
    EXPECT_EQ(f.data_offset() % a, 0u);
    EXPECT_EQ(f.tensor("b").offset % a, 0u);
    GgufWriter w2;
    w2.copy_metadata_from(f);
    for (const auto& t : f.tensors()) {
      auto s = f.tensor_data(t);
      w2.add_tensor(t.name, t.type, t.shape, {s.begin(), s.end()});
    }
    EXPECT_EQ(w2.to_bytes(), bytes) << a;
  }
  GgufWriter w;
  EXPECT_THROW(w.set_alignment(0), Error);
  EXPECT_THROW(w.set_alignment(48), Error);
  EXPECT_THROW(w.set("general.alignment", Value::string("32")), Error);
}

TEST(GgufRoundTrip, WriteToFileAndOpen) {
  const auto dir = test::temp_dir("qgguf");
  const std::string path = (dir / "m.gguf").string();
  GgufWriter w = every_type_writer();
  w.add_tensor("w", GgmlType::F32, {4, 4}, iota_bytes(64));
  w.add_tensor_lazy("zeros", GgmlType::F32, {1 << 16}, [](uint8_t*, uint64_t) {});  // sparse
  w.write(path);
  auto f = GgufFile::open(path);
  EXPECT_EQ(f.path(), path);
  EXPECT_EQ(f.file_size(), fs::file_size(path));
  EXPECT_EQ(f.architecture(), "llama");
  EXPECT_EQ(f.arch_key(keys::kContextLength), "llama.context_length");
  const auto z = f.tensor_data(f.tensor("zeros"));
  EXPECT_EQ(z.size(), 4u << 16);
  EXPECT_TRUE(std::all_of(z.begin(), z.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(test::read_file(path).size(), f.file_size());
  std::vector<uint8_t> mem = w.to_bytes();
  const std::string disk = test::read_file(path);
  EXPECT_TRUE(disk.size() == mem.size() && std::memcmp(disk.data(), mem.data(), mem.size()) == 0);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  fs::remove_all(dir);
}

TEST(GgufRoundTrip, FailedWriteLeavesNoOutput) {
  const auto dir = test::temp_dir("qgguf");
  const std::string path = (dir / "out.gguf").string();
  GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.add_tensor_lazy("boom", GgmlType::F32, {4}, [](uint8_t*, uint64_t) {
    throw Error(ErrorCode::kInternal, "fill failed");
  });
  EXPECT_EQ(error_of([&] { w.write(path); }), "fill failed");
  EXPECT_TRUE(fs::is_empty(dir)) << "temp file left behind";
  // An existing OUT is untouched by a failed write.
  GgufWriter ok;
  ok.set("general.architecture", Value::string("llama"));
  ok.write(path);
  const std::string before = test::read_file(path);
  EXPECT_THROW(w.write(path), Error);
  EXPECT_EQ(test::read_file(path), before);
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  EXPECT_EQ(n, 1u);
  // A directory that does not exist: a clear error naming the path.
  const std::string bad = (dir / "missing" / "x.gguf").string();
  EXPECT_NE(error_of([&] { ok.write(bad); }).find(bad), std::string::npos);
  fs::remove_all(dir);
}

TEST(GgufWriter, SetReplacesInPlaceAndRemove) {
  GgufWriter w;
  w.set("a", Value::u32(1));
  w.set("b", Value::u32(2));
  w.set("a", Value::string("x"));
  ASSERT_EQ(w.metadata().size(), 2u);
  EXPECT_EQ(w.metadata()[0].first, "a");
  EXPECT_EQ(w.metadata()[0].second.as_string(), "x");
  w.remove("a");
  ASSERT_EQ(w.metadata().size(), 1u);
  EXPECT_EQ(w.metadata()[0].first, "b");
  EXPECT_EQ(w.find("a"), nullptr);
  w.set_alignment(64);
  EXPECT_EQ(w.find("general.alignment")->as_uint(), 64u);
  w.set_alignment(32);
  EXPECT_EQ(w.find("general.alignment"), nullptr);
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  w.add_tensor("ok", GgmlType::F32, {2}, iota_bytes(8));
  EXPECT_NE(error_of([&] { w.add_tensor("ok", GgmlType::F32, {2}, iota_bytes(8)); }).find("duplicate"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("s", GgmlType::F32, {2}, iota_bytes(7)); }).find("7 bytes of data, expected 8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("q", GgmlType::Q4_K, {100}, {}); }).find("block size 256"), std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("d", GgmlType::F32, {1, 1, 1, 1, 1}, iota_bytes(4)); }).find("5 dimensions"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("z", GgmlType::F32, {0}, {}); }).find("is zero"), std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("\xff", GgmlType::F32, {1}, iota_bytes(4)); }).find("UTF-8"),
            std::string::npos);
  EXPECT_NE(error_of([&] { w.add_tensor("", GgmlType::F32, {1}, iota_bytes(4)); }).find("empty"), std::string::npos);
  // The KV-only F8_E4M3 has no GGUF number: it can never be written to a file.
  EXPECT_NE(error_of([&] { w.add_tensor("f8", GgmlType::F8_E4M3, {4}, iota_bytes(4)); }).find("unknown type 1000"),
            std::string::npos);
}

TEST(GgufFile, TypedAccessErrors) {
  GgufWriter w = every_type_writer();
  const auto bytes = w.to_bytes();
  auto f = GgufFile::parse(bytes, "model.gguf");
  try {
    f.get_uint("llama.context_length");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "model.gguf: missing required key 'llama.context_length'");
  }
  try {
    f.get_uint("t.string");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile);
    EXPECT_EQ(std::string(e.what()), "model.gguf: key 't.string': expected an unsigned integer, found string");
  }
  EXPECT_THROW(f.get_uint("t.i8"), Error);  // negative
  EXPECT_EQ(f.get_uint_or("nope", 7), 7u);
  EXPECT_EQ(f.get_string_or("nope", "d"), "d");
  EXPECT_EQ(f.get_bool_or("nope", true), true);
  EXPECT_EQ(f.get_float_or("nope", 0.5), 0.5);
  EXPECT_EQ(f.get_int_or("t.i8", 0), -128);
  EXPECT_THROW(f.get_int_or("t.string", 0), Error);  // present with the wrong type
  try {
    f.tensor("output.weight");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_EQ(std::string(e.what()), "model.gguf: tensor 'output.weight' not found");
  }
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);
}

TEST(GgufFile, VersionTwoReads) {
  GgufWriter w = every_type_writer();
  w.add_tensor("a", GgmlType::F32, {2}, iota_bytes(8));
  auto bytes = w.to_bytes();
  bytes[4] = 2;
  auto f = GgufFile::parse(bytes, "v2.gguf");
  EXPECT_EQ(f.version(), 2u);
  EXPECT_EQ(f.tensors().size(), 1u);
}

}  // namespace
}  // namespace quarrel::gguf
