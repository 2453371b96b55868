// libFuzzer target: GgufFile::parse on arbitrary bytes. Every input must either parse or throw
// quarrel::Error naming the file; nothing may crash, hang, leak or allocate out of proportion.
// A file that parses is then touched everywhere (every value, every tensor's bytes) and
// written back with GgufWriter: the rewrite must parse to the same metadata and tensors.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"

namespace {

using namespace quarrel;
using namespace quarrel::gguf;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "gguf_fuzz: %s\n", what);
  std::abort();
}

// Calls every accessor; the typed ones may throw Error on a type mismatch, nothing else.
uint64_t touch(const Value& v, int depth = 0) {
  uint64_t h = static_cast<uint64_t>(v.type());
  try { h += static_cast<uint64_t>(v.as_int()); } catch (const Error&) {}
  try { h += v.as_uint(); } catch (const Error&) {}
  try { h += static_cast<uint64_t>(v.as_float() != 0); } catch (const Error&) {}
  try { h += v.as_bool(); } catch (const Error&) {}
  try { h += v.as_string().size(); } catch (const Error&) {}
  if (v.is_array()) {
    h += static_cast<uint64_t>(v.array_type()) + v.size();
    try { h += v.as_string_array().size(); } catch (const Error&) {}
    try { h += v.as_int_array().size(); } catch (const Error&) {}
    try { h += v.as_float_array().size(); } catch (const Error&) {}
    for (const auto& it : v.items()) h += touch(it, depth + 1);
  }
  if (depth == 0) h += v.to_display().size();
  return h;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::optional<GgufFile> f;
  try {
    f.emplace(GgufFile::parse({data, size}, "fuzz.gguf"));
  } catch (const Error& e) {
    if (std::strncmp(e.what(), "fuzz.gguf: ", 11) != 0) die("error message does not name the file");
    return 0;
  }
  volatile uint64_t sink = 0;
  for (const auto& [k, v] : f->metadata()) {
    sink = sink + k.size() + touch(v);
    if (f->find(k) != &v) die("find() does not return the metadata entry");
  }
  try { sink = sink + f->architecture().size(); } catch (const Error&) {}
  for (const auto& t : f->tensors()) {
    const auto d = f->tensor_data(t);
    if (d.size() != t.n_bytes()) die("tensor_data size differs from n_bytes");
    if (!d.empty()) sink = sink + d[0] + d[d.size() - 1];
    if (f->find_tensor(t.name) != &t) die("find_tensor() does not return the tensor");
  }

  // Write it back and read the rewrite: same metadata, same tensors, same bytes.
  GgufWriter w;
  std::vector<uint8_t> out;
  try {
    w.copy_metadata_from(*f);
    for (const auto& t : f->tensors()) {
      const auto d = f->tensor_data(t);
      w.add_tensor(t.name, t.type, t.shape, {d.begin(), d.end()});
    }
    out = w.to_bytes();
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    die("the writer refused what the reader accepted");
  }
  try {
    auto g = GgufFile::parse(out, "rewrite.gguf");
    if (g.metadata().size() != f->metadata().size()) die("rewrite: metadata count differs");
    for (size_t i = 0; i < g.metadata().size(); ++i)
      if (g.metadata()[i].first != f->metadata()[i].first || g.metadata()[i].second != f->metadata()[i].second)
        die("rewrite: metadata differs");
    if (g.tensors().size() != f->tensors().size() || g.alignment() != f->alignment()) die("rewrite: header differs");
    for (size_t i = 0; i < g.tensors().size(); ++i) {
      const auto& a = f->tensors()[i];
      const auto& b = g.tensors()[i];
      if (a.name != b.name || a.type != b.type || a.shape != b.shape) die("rewrite: tensor info differs");
      const auto da = f->tensor_data(a);
      const auto db = g.tensor_data(b);
      if (da.size() != db.size() || (!da.empty() && std::memcmp(da.data(), db.data(), da.size()) != 0))
        die("rewrite: tensor data differs");
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "%s\n", e.what());
    die("the reader refused the writer's rewrite");
  }
  return 0;
}
