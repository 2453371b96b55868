// Crafted hostile files: each must give an Error(kInvalidFile) that names the file and the
// problem, never a crash, a hang or a huge allocation (the ASan build runs these too).
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <limits>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace quarrel::gguf {
namespace {

constexpr uint64_t kHuge = std::numeric_limits<uint64_t>::max();

// Hand-built GGUF bytes.
struct Raw {
  std::vector<uint8_t> b;
  Raw& u8(uint8_t v) { return put(&v, 1); }
  Raw& u32(uint32_t v) { return put(&v, 4); }
  Raw& u64(uint64_t v) { return put(&v, 8); }
  Raw& str(std::string_view s) {
    u64(s.size());
    return put(s.data(), s.size());
  }
  Raw& put(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    put("GGUF", 4);
    u32(version);
    u64(n_tensors);
    return u64(n_kv);
  }
  Raw& kv_str(std::string_view key, std::string_view val) { return str(key).u32(8).str(val); }
  Raw& kv_u32(std::string_view key, uint32_t v) { return str(key).u32(4).u32(v); }
  Raw& tensor(std::string_view name, std::vector<uint64_t> shape, uint32_t type, uint64_t offset) {
    str(name).u32(static_cast<uint32_t>(shape.size()));
    for (auto d : shape) u64(d);
    return u32(type).u64(offset);
  }
  Raw& pad(size_t align = 32) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.resize(b.size() + n, 0);
    return *this;
  }
};

// Parses `bytes` as "bad.gguf"; returns the error message (or "(parsed)").
std::string parse_error(const std::vector<uint8_t>& bytes) {
  try {
    GgufFile::parse(bytes, "bad.gguf");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kInvalidFile) << e.what();
    return e.what();
  }
  return "(parsed)";
}

#define EXPECT_PROBLEM(bytes, text)                                                      \
  do {                                                                                   \
    const std::string msg_ = parse_error(bytes);                                         \
    EXPECT_EQ(msg_.rfind("bad.gguf: ", 0), 0u) << msg_;                                  \
    EXPECT_NE(msg_.find(text), std::string::npos) << "expected '" << (text) << "' in: " << msg_; \
  } while (0)

// A valid file with one key and one F32 [4] tensor, built by hand: the baseline the cases change.
Raw valid_file() {
  Raw r;
  r.header(1, 1).kv_str("general.architecture", "llama").tensor("w", {4}, 0, 0).pad().zeros(16).pad();
  return r;
}

TEST(GgufHostile, BaselineParses) {
  auto f = GgufFile::parse(valid_file().b, "ok.gguf");
  EXPECT_EQ(f.tensors().size(), 1u);
  EXPECT_EQ(f.tensor_data(f.tensor("w")).size(), 16u);
}

TEST(GgufHostile, EveryTruncationIsAClearError) {
  GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("a", Value::array(ValueType::kArray, {Value::string_array({"x", "yz"})}));
  w.set("b", Value::f64(1.0));
  w.add_tensor("t", GgmlType::Q8_0, {32, 2}, std::vector<uint8_t>(68, 1));
  const auto full = w.to_bytes();
  const auto parsed = GgufFile::parse(full, "full.gguf");
  const auto& last = parsed.tensors().back();
  const size_t end = parsed.data_offset() + last.offset + last.n_bytes();  // padding after this is optional
  for (size_t n = 0; n < end; ++n) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(n));
    const std::string msg = parse_error(cut);
    ASSERT_EQ(msg.rfind("bad.gguf: ", 0), 0u) << "prefix " << n << ": " << msg;
    const bool named = msg.find("truncated") != std::string::npos || msg.find("outside the file") != std::string::npos ||
                       msg.find("not a GGUF file") != std::string::npos;
    EXPECT_TRUE(named) << "prefix " << n << ": " << msg;
  }
}

TEST(GgufHostile, TruncatedInTheMiddleOfAString) {
  Raw r;
  r.header(0, 1).u64(20).put("general.arch", 12);
  EXPECT_PROBLEM(r.b, "truncated file: metadata key #0 claims 20 bytes at offset 32 but only 12 remain");
}

TEST(GgufHostile, NotGguf) {
  EXPECT_PROBLEM(std::vector<uint8_t>{}, "not a GGUF file");
  EXPECT_PROBLEM((std::vector<uint8_t>{'G', 'G', 'M', 'L', 3, 0, 0, 0}), "not a GGUF file (starts with \"GGML\"");
}

TEST(GgufHostile, Version1IsRejected) {
  Raw r;
  r.header(0, 0, 1);
  EXPECT_PROBLEM(r.b, "GGUF version 1 is not supported");
}

TEST(GgufHostile, UnknownVersionAndBigEndian) {
  Raw r;
  r.header(0, 0, 99);
  EXPECT_PROBLEM(r.b, "unsupported GGUF version 99");
  Raw be;
  be.header(0, 0, 0x03000000u);
  EXPECT_PROBLEM(be.b, "big-endian");
}

TEST(GgufHostile, MetadataCountTooLarge) {
  Raw r;
  r.header(0, kHuge).kv_str("general.architecture", "llama");
  EXPECT_PROBLEM(r.b, "truncated file or corrupt count: metadata count 18446744073709551615 needs at least 2^64 or more bytes");
}

TEST(GgufHostile, TensorCountTooLarge) {
  Raw r;
  r.header(1ull << 62, 0);
  EXPECT_PROBLEM(r.b, "truncated file or corrupt count: tensor count 4611686018427387904 needs at least");
  Raw s;
  s.header(3, 0).zeros(40);
  EXPECT_PROBLEM(s.b, "tensor count 3 needs at least 96 bytes but only 40 remain");
}

TEST(GgufHostile, StringLengthOverflows) {
  Raw r;
  r.header(0, 1).str("k").u32(8).u64(kHuge).put("abc", 3);
  EXPECT_PROBLEM(r.b, "metadata key 'k' (string) claims 18446744073709551615 bytes");
}

TEST(GgufHostile, ArrayCountTooLarge) {
  Raw r;
  r.header(0, 1).str("k").u32(9).u32(4).u64(1ull << 62).u32(1);
  EXPECT_PROBLEM(r.b, "metadata key 'k': array of 4611686018427387904 u32 values needs at least 2^64 or more bytes");
  Raw s;  // count * 8 would overflow for strings
  s.header(0, 1).str("k").u32(9).u32(8).u64(kHuge / 4).str("a");
  EXPECT_PROBLEM(s.b, "array of 4611686018427387903 string values needs at least");
  Raw t;
  t.header(0, 1).str("k").u32(9).u32(6).u64(3).u32(0).u32(0);
  EXPECT_PROBLEM(t.b, "truncated file or corrupt count: metadata key 'k': array of 3 f32 values needs at least 12 bytes at offset 49 but only 8 remain");
}

TEST(GgufHostile, TooManyArrayItemsInAll) {
  // 8.4 M one-byte items: fits in the bytes, but more than the reader accepts in all; refused
  // before anything is reserved.
  Raw r;
  const uint64_t n = (1ull << 23) + 1;
  r.header(0, 1).str("k").u32(9).u32(0).u64(n).zeros(n);
  EXPECT_PROBLEM(r.b, "metadata arrays hold more than 8388608 items");
}

TEST(GgufHostile, NestingTooDeep) {
  Raw r;
  r.header(0, 1).str("k").u32(9);
  for (int i = 0; i < 100; ++i) r.u32(9).u64(1);
  r.u32(0).u64(0);
  EXPECT_PROBLEM(r.b, "arrays nested more than 32 deep");
}

TEST(GgufHostile, UnknownValueType) {
  Raw r;
  r.header(0, 1).str("k").u32(13).u32(0);
  EXPECT_PROBLEM(r.b, "metadata key 'k' (value type): unknown value type 13");
  Raw a;
  a.header(0, 1).str("k").u32(9).u32(0xdeadbeef).u64(0);
  EXPECT_PROBLEM(a.b, "metadata key 'k' (array element type): unknown value type 3735928559");
}

TEST(GgufHostile, BadBool) {
  Raw r;
  r.header(0, 1).str("k").u32(7).u8(2);
  EXPECT_PROBLEM(r.b, "bool value 2 is neither 0 nor 1");
}

TEST(GgufHostile, DuplicateKey) {
  Raw r;
  r.header(0, 2).kv_u32("a.b", 1).kv_u32("a.b", 2);
  EXPECT_PROBLEM(r.b, "duplicate metadata key 'a.b'");
}

TEST(GgufHostile, EmptyKey) {
  Raw r;
  r.header(0, 1).kv_u32("", 1);
  EXPECT_PROBLEM(r.b, "metadata key #0 at offset 24 is empty");
}

TEST(GgufHostile, InvalidUtf8InKey) {
  Raw r;
  r.header(0, 1).kv_u32("bad\xff key", 1);
  EXPECT_PROBLEM(r.b, "metadata key #0 is not valid UTF-8 (byte 3 of \"bad\\xff key\")");
}

TEST(GgufHostile, InvalidUtf8InStringValue) {
  Raw r;
  r.header(0, 1).kv_str("general.name", "ok\xc0\xaf");  // overlong '/'
  EXPECT_PROBLEM(r.b, "metadata key 'general.name' (string) is not valid UTF-8");
}

TEST(GgufHostile, InvalidUtf8InStringArray) {
  Raw r;
  r.header(0, 1).str("tokenizer.ggml.tokens").u32(9).u32(8).u64(2).str("fine").str("\xed\xa0\x80");  // surrogate
  EXPECT_PROBLEM(r.b, "metadata key 'tokenizer.ggml.tokens' (string) is not valid UTF-8");
}

TEST(GgufHostile, InvalidUtf8InTensorName) {
  Raw r;
  r.header(1, 0).tensor("blk.0.\x80", {4}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor #0 name is not valid UTF-8");
}

TEST(GgufHostile, EmptyTensorName) {
  Raw r;
  r.header(1, 0).tensor("", {4}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor #0 at offset 24 has an empty name");
}

TEST(GgufHostile, DuplicateTensorName) {
  Raw r;
  r.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad().zeros(64);
  EXPECT_PROBLEM(r.b, "duplicate tensor name 'w'");
}

TEST(GgufHostile, TooManyDims) {
  Raw r;
  r.header(1, 0).tensor("w", {1, 1, 1, 1, 4}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor 'w' has 5 dimensions (at most 4)");
  Raw h;  // a huge n_dims must not be reserved
  h.header(1, 0).str("w").u32(0xffffffffu).u64(1).zeros(64);
  EXPECT_PROBLEM(h.b, "tensor 'w' has 4294967295 dimensions");
}

TEST(GgufHostile, ZeroDims) {
  Raw r;
  r.header(1, 0).tensor("w", {}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor 'w' has 0 dimensions");
  Raw z;
  z.header(1, 0).tensor("w", {4, 0}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(z.b, "tensor 'w' (F32) shape [4, 0]: dimension 1 is zero");
}

TEST(GgufHostile, ElementCountOverflows) {
  Raw r;
  r.header(1, 0).tensor("w", {1ull << 32, 1ull << 32, 4}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "element count overflows");
  Raw d;
  d.header(1, 0).tensor("w", {kHuge}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(d.b, "dimension 0 is too large");
}

TEST(GgufHostile, ShapeNotAMultipleOfTheBlockSize) {
  Raw r;
  r.header(1, 0).tensor("w", {100, 2}, 12 /*Q4_K*/, 0).pad().zeros(288);
  EXPECT_PROBLEM(r.b, "tensor 'w' (Q4_K) shape [100, 2]: first dimension 100 is not a multiple of the Q4_K block size 256");
}

TEST(GgufHostile, UnknownTensorType) {
  // 1000 is Quarrel's KV-only F8_E4M3 (GgmlType): never a tensor type in a file.
  for (uint32_t type : {4u, 5u, 31u, 40u, 1000u, 0xffffffffu}) {
    Raw r;
    r.header(1, 0).tensor("w", {32}, type, 0).pad().zeros(256);
    EXPECT_PROBLEM(r.b, "tensor 'w' has unknown tensor type " + std::to_string(type));
  }
}

TEST(GgufHostile, MisalignedTensorOffset) {
  Raw r;
  r.header(1, 0).tensor("w", {4}, 0, 4).pad().zeros(64);
  EXPECT_PROBLEM(r.b, "tensor 'w': offset 4 is misaligned (not a multiple of the alignment 32)");
}

TEST(GgufHostile, TensorOutsideTheFile) {
  Raw r;
  r.header(1, 0).tensor("w", {4}, 0, 1024).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor 'w' (F32 [4], 16 bytes at data offset 1024) lies outside the file: the data section has 16 bytes");
}

TEST(GgufHostile, TensorOffsetPlusSizeOverflows) {
  Raw r;
  r.header(1, 0).tensor("w", {4}, 0, kHuge - 31).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "lies outside the file");
}

TEST(GgufHostile, DataSectionPastTheEnd) {
  Raw r;
  r.header(1, 0).tensor("w", {4}, 0, 0);  // no padding, no data
  EXPECT_PROBLEM(r.b, "truncated file: the data section starts at offset");
}

TEST(GgufHostile, ByteSizeDoesNotMatchShape) {
  // The shape says 8 floats (32 bytes) but only 16 bytes of data follow.
  Raw r;
  r.header(1, 0).tensor("w", {8}, 0, 0).pad().zeros(16);
  EXPECT_PROBLEM(r.b, "tensor 'w' (F32 [8], 32 bytes at data offset 0) lies outside the file: the data section has 16 bytes");
}

TEST(GgufHostile, OverlappingTensors) {
  // 'a' is F32 [16] = 64 bytes at 0, 'b' starts at 32: a's size does not fit before b.
  Raw r;
  r.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {8}, 0, 32).pad().zeros(128);
  EXPECT_PROBLEM(r.b, "tensors 'a' and 'b' overlap: 'a' (F32 [16]) needs 64 bytes at data offset 0 but 'b' starts at 32");
  Raw same;  // two tensors at the same offset
  same.header(2, 0).tensor("a", {4}, 0, 0).tensor("b", {4}, 0, 0).pad().zeros(32);
  EXPECT_PROBLEM(same.b, "overlap");
}

TEST(GgufHostile, BadAlignment) {
  for (uint32_t a : {0u, 3u, 48u}) {
    Raw r;
    r.header(0, 1).kv_u32("general.alignment", a);
    EXPECT_PROBLEM(r.b, "general.alignment must be a nonzero power of two, found " + std::to_string(a));
  }
  Raw s;
  s.header(0, 1).kv_str("general.alignment", "32");
  EXPECT_PROBLEM(s.b, "general.alignment must be an integer, found string");
  Raw neg;
  neg.header(0, 1).str("general.alignment").u32(5).u32(static_cast<uint32_t>(-32));
  EXPECT_PROBLEM(neg.b, "general.alignment must be a nonzero power of two, found -32");
}

TEST(GgufHostile, HugeAlignment) {
  Raw r;
  r.header(1, 1).str("general.alignment").u32(10).u64(1ull << 63).tensor("w", {4}, 0, 0).zeros(64);
  EXPECT_PROBLEM(r.b, "truncated file: the data section starts at offset 9223372036854775808");
}

TEST(GgufHostile, MutatedWriterOutputNeverCrashes) {
  // Flip bytes of a writer-made file one at a time: every result parses or is a clear error.
  GgufWriter w;
  w.set("general.architecture", Value::string("llama"));
  w.set("n", Value::array(ValueType::kArray, {Value::i32_array({1, 2})}));
  w.add_tensor("t", GgmlType::Q4_0, {32}, std::vector<uint8_t>(18, 3));
  w.add_tensor("u", GgmlType::F16, {2, 2}, std::vector<uint8_t>(8, 3));
  const auto good = w.to_bytes();
  for (size_t i = 0; i < good.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      auto bytes = good;
      bytes[i] ^= x;
      try {
        auto f = GgufFile::parse(bytes, "bad.gguf");
        for (const auto& t : f.tensors()) (void)f.tensor_data(t);
      } catch (const Error& e) {
        EXPECT_EQ(std::string(e.what()).rfind("bad.gguf: ", 0), 0u) << e.what();
      }
    }
  }
}

TEST(GgufHostile, OpenNamesThePath) {
  try {
    GgufFile::open("/nonexistent/dir/model.gguf");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
  }
}

}  // namespace
}  // namespace quarrel::gguf
