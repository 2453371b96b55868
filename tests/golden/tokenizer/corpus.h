#pragma once
// A varied text corpus for comparing tokenizers: English prose, code, CJK, Arabic and other
// scripts, emoji (ZWJ sequences, flags, skin tones), numbers of every length, runs of spaces,
// tabs and newlines, contractions, the given special-token texts inside text, and invalid
// UTF-8. A fixed part plus random mixtures drawn from `seed`.
//
// Left out on purpose, because the JavaScript reference and Hugging Face's Rust tokenizers
// (which the GGUF rules follow) disagree on them, so no answer is the reference's:
// U+0085 and U+FEFF / U+180E (JavaScript's \s differs from Oniguruma's \s), and U+017F and
// U+212A (Oniguruma's (?i) folds them to s / k, JavaScript's rewritten [sS] does not).
#include <cstdint>
#include <string>
#include <vector>

namespace quarrel::test {

std::vector<std::string> tokenizer_corpus(uint64_t seed, const std::vector<std::string>& special_texts,
                                          size_t n_random = 300);

// "text" with non-printable bytes escaped (\n, \t, \xNN), for failure messages.
std::string escape_text(const std::string& s);

}  // namespace quarrel::test
