// quarrel tokenize MODEL TEXT|--file F [--ids] [--no-bos] [--special]: the model's tokens for a
// text, one per line as `id<TAB>'piece'`, or the id list alone with --ids.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "apps/quarrel/command.h"
#include "core/error.h"
#include "gguf/gguf_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"

namespace quarrel::cli {
namespace {

// A piece as printed: valid UTF-8 characters as they are; quotes, backslashes and control
// characters escaped (\n, \t, \r, \', \\, \xNN); bytes that are not valid UTF-8 (a byte token
// holding part of a character) as \xNN.
std::string printable_piece(std::string_view p) {
  std::string out;
  size_t i = 0;
  while (i < p.size()) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c >= 0x80) {
      const size_t start = i;
      const char32_t cp = tokenizer::next_utf8(p, i);
      const bool real_fffd = i - start == 3 && c == 0xEF;
      if (cp == 0xFFFD && !real_fffd) {
        for (size_t k = start; k < i; ++k) out += fmt::format("\\x{:02X}", static_cast<unsigned char>(p[k]));
      } else {
        out.append(p.substr(start, i - start));
      }
      continue;
    }
    ++i;
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '\'': out += "\\'"; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c == 0x7F)
          out += fmt::format("\\x{:02X}", c);
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

std::string read_input(const std::string& path) {
  if (path == "-") return std::string(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(ErrorCode::kNotFound, "cannot read {}", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Args {
  std::string model, text, file;
  bool ids = false, no_bos = false, special = false;
};

int run(const Args& a, bool have_text) {
  if (have_text == !a.file.empty())
    fail(ErrorCode::kInvalidArgument, "give the text either as an argument or with --file, not {}",
         have_text ? "both" : "neither");
  const std::string text = have_text ? a.text : read_input(a.file);
  const auto file = gguf::GgufFile::open(a.model);
  const auto tok = tokenizer::Tokenizer::from_gguf(file);
  const auto ids = tok.encode(text, /*add_special=*/!a.no_bos, /*parse_special=*/a.special);
  std::string out;
  if (a.ids) {
    out = "[";
    for (size_t i = 0; i < ids.size(); ++i) out += (i ? ", " : "") + std::to_string(ids[i]);
    out += "]\n";
  } else {
    for (const int32_t id : ids) out += fmt::format("{}\t'{}'\n", id, printable_piece(tok.token_to_piece(id)));
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

const RegisterCommand kRegister{Command{
    "tokenize", "Show the tokens a model's tokenizer makes of a text",
    [](CLI::App& sub) -> std::function<int()> {
      auto a = std::make_shared<Args>();
      sub.add_option("MODEL", a->model, "GGUF file (a model or a vocabulary-only file)")->required();
      auto* text = sub.add_option("TEXT", a->text, "The text to tokenize");
      sub.add_option("--file,-f", a->file, "Read the text from this file ('-' for standard input)");
      sub.add_flag("--ids", a->ids, "Print only the list of ids, as [1, 2, 3]");
      sub.add_flag("--no-bos", a->no_bos, "Add no BOS/EOS tokens (the model's add_bos/add_eos flags are ignored)");
      sub.add_flag("--special", a->special,
                   "Parse special-token text (<|im_start|>, <s>, ...) as those tokens, as chat templates need");
      sub.footer(
          "Output: one line per token, `id<TAB>'piece'`. The piece is the text the token stands for; "
          "newlines, tabs, quotes and backslashes are escaped (\\n, \\t, \\', \\\\) and bytes that are only part "
          "of a UTF-8 character are written \\xNN.");
      return [a, text] { return run(*a, text->count() > 0); };
    }}};

}  // namespace
}  // namespace quarrel::cli
