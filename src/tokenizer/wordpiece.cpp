#include "tokenizer/wordpiece.h"

#include <algorithm>
#include <string>

#include "tokenizer/unicode.h"

namespace quarrel::tokenizer {

namespace {

// BERT isolates CJK ideographs (the CJK Unified Ideographs blocks and their extensions, as
// BERT's _is_chinese_char defines them; Hangul and kana are not included).
bool is_cjk_ideograph(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

constexpr size_t kMaxWordChars = 100;  // longer words are the unknown token (BERT's limit)

}  // namespace

WordPieceEncoder::WordPieceEncoder(const TokenTable& table, int32_t unk, bool lowercase, bool strip_accents)
    : table_(table), unk_(unk), lowercase_(lowercase), strip_accents_(strip_accents) {
  for (const auto& t : table.text) max_token_len_ = std::max(max_token_len_, t.size());
}

void WordPieceEncoder::encode(std::string_view input, std::vector<int32_t>& out) const {
  std::string nfd;
  if (strip_accents_) {
    nfd = normalize_nfd(input);
    input = nfd;
  }
  // Words, each with its character count.
  std::vector<std::pair<std::string, size_t>> words(1);
  auto finish = [&] {
    if (!words.back().first.empty()) words.emplace_back();
  };
  for (size_t i = 0; i < input.size();) {
    const char32_t cp = next_utf8(input, i);
    if (cp == '\t' || cp == '\n' || cp == '\r' || is_unicode_whitespace(cp)) {
      finish();
      continue;
    }
    if (cp == 0 || cp == 0xFFFD || is_unicode_control(cp)) continue;
    if (strip_accents_ && is_unicode_nonspacing_mark(cp)) continue;
    const char32_t c = lowercase_ ? unicode_to_lower(cp) : cp;
    if (is_unicode_punctuation(cp) || (cp < 0x7F && is_unicode_symbol(cp)) || is_cjk_ideograph(cp)) {
      finish();
      append_utf8(words.back().first, c);
      words.back().second = 1;
      words.emplace_back();
    } else {
      append_utf8(words.back().first, c);
      ++words.back().second;
    }
  }

  std::string w;
  for (const auto& [word, n_chars] : words) {
    if (word.empty()) continue;
    if (n_chars > kMaxWordChars) {
      if (unk_ >= 0) out.push_back(unk_);
      continue;
    }
    w = "\xE2\x96\x81" + word;  // word-initial pieces carry U+2581
    const size_t start = out.size();
    bool ok = true;
    for (size_t i = 0; i < w.size() && ok;) {
      ok = false;
      for (size_t j = std::min(w.size(), i + max_token_len_); j > i; --j) {
        const int32_t id = table_.find(std::string_view(w).substr(i, j - i));
        if (id >= 0) {
          out.push_back(id);
          i = j;
          ok = true;
          break;
        }
      }
    }
    if (!ok) {
      out.resize(start);
      if (unk_ >= 0) out.push_back(unk_);
    }
  }
}

}  // namespace quarrel::tokenizer
