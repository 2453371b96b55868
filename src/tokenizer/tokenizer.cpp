#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "core/log.h"
#include "gguf/gguf_file.h"
#include "tokenizer/bpe.h"
#include "tokenizer/special_tokens.h"
#include "tokenizer/spm.h"
#include "tokenizer/token_table.h"
#include "tokenizer/unicode.h"
#include "tokenizer/wordpiece.h"

namespace quarrel::tokenizer {

struct Tokenizer::Impl {
  VocabKind kind = VocabKind::kBpe;
  std::string pre_name;
  TokenTable table;

  int32_t bos = -1, eos = -1, eot = -1, eom = -1, unk = -1, sep = -1, pad = -1;
  bool add_bos = false, add_eos = false, add_sep = false, add_space_prefix = false;
  bool strip_leading_space = false;

  std::vector<int32_t> eog;
  std::vector<uint8_t> is_eog;

  SpecialMatcher specials;      // control, unknown and user-defined tokens (parse_special)
  SpecialMatcher user_defined;  // user-defined tokens only (plain text)

  std::unique_ptr<BpeEncoder> bpe;
  std::unique_ptr<SpmEncoder> spm;
  std::unique_ptr<WordPieceEncoder> wpm;

  std::vector<std::string> pieces;  // each token rendered alone (control tokens as their text)
  std::vector<uint8_t> skippable;   // rendered as "" when skipping special tokens

  void check_id(int32_t id) const {
    if (id < 0 || id >= table.size())
      fail(ErrorCode::kInvalidArgument, "token id {} is out of range (the vocabulary has {} tokens)", id, table.size());
  }
  void encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const;
};

namespace {

uint32_t attr_of_type(int32_t t) {
  switch (static_cast<TokenType>(t)) {
    case TokenType::kNormal: return kAttrNormal;
    case TokenType::kUnknown: return kAttrUnknown;
    case TokenType::kControl: return kAttrControl;
    case TokenType::kUserDefined: return kAttrUserDefined;
    case TokenType::kUnused: return kAttrUnused;
    case TokenType::kByte: return kAttrByte;
    default: return kAttrUndefined;
  }
}

// "<0xNN>" -> NN, or -1.
int parse_byte_token(std::string_view t) {
  if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  const int hi = hex(t[3]), lo = hex(t[4]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string replace_all(std::string_view s, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  for (;;) {
    const size_t at = s.find(from, pos);
    if (at == std::string_view::npos) break;
    out.append(s.substr(pos, at - pos));
    out.append(to);
    pos = at + from.size();
  }
  out.append(s.substr(pos));
  return out;
}

constexpr std::string_view kSpaceMark = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// Texts of end-of-turn tokens in the vocabularies of known model families.
constexpr std::string_view kEotTexts[] = {"<|eot_id|>",       "<|im_end|>", "<|end|>",  "<end_of_turn>",
                                          "<|endoftext|>",    "<|end_of_text|>", "<EOT>", "_<EOT>",
                                          "<｜end▁of▁sentence｜>", "<end_of_utterance>"};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>", "<|endoftext|>",
    "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<｜end▁of▁sentence｜>", "<eos>"};

}  // namespace

void Tokenizer::Impl::encode_fragment(std::string_view text, bool after_special, std::vector<int32_t>& out) const {
  switch (kind) {
    case VocabKind::kSpm: {
      std::string s;
      if (add_space_prefix && after_special) s = " ";
      s.append(text);
      spm->encode(replace_all(s, " ", kSpaceMark), out);
      break;
    }
    case VocabKind::kBpe: bpe->encode(text, out); break;
    case VocabKind::kWpm: wpm->encode(text, out); break;
  }
}

Tokenizer Tokenizer::from_gguf(const gguf::GgufFile& f) { return Tokenizer(Vocab::from_gguf(f)); }

Tokenizer::Tokenizer(const Vocab& v) {
  auto impl = std::make_shared<Impl>();
  Impl& m = *impl;
  m.kind = v.kind;
  const size_t n = v.tokens.size();
  if (n == 0) fail(ErrorCode::kInvalidFile, "tokenizer: the vocabulary is empty");
  if (n > static_cast<size_t>(INT32_MAX)) fail(ErrorCode::kInvalidFile, "tokenizer: too many tokens ({})", n);
  if (!v.scores.empty() && v.scores.size() < n)
    fail(ErrorCode::kInvalidFile, "tokenizer: {} scores for {} tokens", v.scores.size(), n);
  if (!v.token_types.empty() && v.token_types.size() < n)
    fail(ErrorCode::kInvalidFile, "tokenizer: {} token types for {} tokens", v.token_types.size(), n);

  // ---- the token table ----
  TokenTable& t = m.table;
  t.text = v.tokens;
  t.score.assign(n, 0.0f);
  t.attr.assign(n, kAttrNormal);
  size_t duplicates = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!v.scores.empty()) t.score[i] = v.scores[i];
    if (!v.token_types.empty()) t.attr[i] = attr_of_type(v.token_types[i]);
    if (!t.text[i].empty() && !t.index.insert(t.text[i], static_cast<int32_t>(i))) ++duplicates;
  }
  if (duplicates > 0) log::warn("tokenizer: duplicate token texts (the first id is used)", {{"count", duplicates}});
  const auto n_tokens = static_cast<int32_t>(n);

  // ---- defaults of the kind, then the file's values ----
  const PreTokenizerSpec* spec = nullptr;
  switch (v.kind) {
    case VocabKind::kSpm:
      m.bos = 1, m.eos = 2, m.unk = 0;
      m.add_space_prefix = true, m.add_bos = true;
      m.pre_name = v.pre.empty() ? "default" : v.pre;
      break;
    case VocabKind::kWpm:
      m.bos = 101, m.unk = 100, m.sep = 102, m.pad = 0;
      m.add_bos = true, m.add_sep = true;
      m.pre_name = v.pre.empty() ? "default" : v.pre;
      break;
    case VocabKind::kBpe:
      spec = find_pre_tokenizer(v.pre.empty() ? "default" : v.pre);
      if (!spec) {
        log::warn("tokenizer: unknown pre-tokenizer, using the default rules", {{"pre", v.pre}});
        spec = find_pre_tokenizer("default");
      } else if (v.pre.empty()) {
        log::warn("tokenizer: the file names no pre-tokenizer (tokenizer.ggml.pre), using the default rules");
      }
      m.pre_name = spec->name;
      m.add_bos = spec->add_bos;
      break;
  }
  auto take = [&](const std::optional<int32_t>& given, int32_t& id, const char* what) {
    if (id >= n_tokens) id = -1;  // a default outside this vocabulary
    if (!given) return;
    if (*given >= n_tokens) {
      log::warn("tokenizer: special token id out of range, ignored", {{"token", what}, {"id", *given}});
      return;
    }
    id = *given;
  };
  take(v.bos, m.bos, "bos");
  take(v.eos, m.eos, "eos");
  take(v.eot, m.eot, "eot");
  take(v.eom, m.eom, "eom");
  take(v.unk, m.unk, "unk");
  take(v.sep, m.sep, "sep");
  take(v.pad, m.pad, "pad");
  if (spec && spec->no_bos) m.bos = -1;
  int32_t fim_pad = -1, fim_rep = -1, fim_sep = -1;
  take(v.fim_pad, fim_pad, "fim_pad");
  take(v.fim_rep, fim_rep, "fim_rep");
  take(v.fim_sep, fim_sep, "fim_sep");

  auto flag = [&](const std::optional<bool>& given, bool& value, int32_t id, const char* key) {
    if (given) {
      value = *given;
      if (value && id < 0) fail(ErrorCode::kInvalidFile, "tokenizer: {} is true, but the model has no such token", key);
    } else if (value && id < 0) {
      value = false;  // a default that this vocabulary cannot follow
    }
  };
  flag(v.add_bos, m.add_bos, m.bos, "add_bos_token");
  flag(v.add_eos, m.add_eos, m.eos, "add_eos_token");
  flag(v.add_sep, m.add_sep, m.sep, "add_sep_token");
  if (v.add_space_prefix && v.kind == VocabKind::kSpm) m.add_space_prefix = *v.add_space_prefix;
  m.strip_leading_space = (v.kind == VocabKind::kSpm && m.add_space_prefix) || v.kind == VocabKind::kWpm;

  // ---- end-of-turn and end-of-generation tokens, found by their text as llama.cpp does ----
  auto make_control = [&](int32_t id) { t.attr[static_cast<size_t>(id)] |= kAttrControl; };
  if (m.eot < 0)
    for (std::string_view s : kEotTexts)
      if (int32_t id = t.find(s); id >= 0) {
        m.eot = id;
        break;
      }
  if (m.eom < 0) m.eom = t.find("<|eom_id|>");
  if (m.eot >= 0) make_control(m.eot);
  if (m.eom >= 0) make_control(m.eom);
  m.is_eog.assign(n, 0);
  auto add_eog = [&](int32_t id) {
    if (id >= 0 && !m.is_eog[static_cast<size_t>(id)]) {
      m.is_eog[static_cast<size_t>(id)] = 1;
      m.eog.push_back(id);
    }
  };
  add_eog(m.eos);
  add_eog(m.eot);
  add_eog(m.eom);
  add_eog(fim_pad);
  add_eog(fim_rep);
  add_eog(fim_sep);
  for (std::string_view s : kEogTexts)
    if (int32_t id = t.find(s); id >= 0) {
      add_eog(id);
      make_control(id);
    }
  // gpt-oss: with <|return|> and <|call|> present, <|end|> ends a message, not generation.
  if (const int32_t end = t.find("<|end|>"); end >= 0 && t.find("<|return|>") >= 0 && t.find("<|call|>") >= 0 &&
                                            end != m.eos) {
    m.is_eog[static_cast<size_t>(end)] = 0;
    m.eog.erase(std::remove(m.eog.begin(), m.eog.end(), end), m.eog.end());
  }
  std::sort(m.eog.begin(), m.eog.end());

  // Phi-3's special tokens swallow the whitespace after them (its tokenizer.json says rstrip).
  std::string lname = v.name;
  std::transform(lname.begin(), lname.end(), lname.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lname.find("phi-3") != std::string::npos || lname.find("phi3") != std::string::npos) {
    for (int32_t id = 0; id < n_tokens; ++id)
      if (t.has(id, kAttrControl | kAttrUserDefined | kAttrUnknown)) t.attr[static_cast<size_t>(id)] |= kAttrRstrip;
    if (int32_t id = t.find("</s>"); id >= 0) t.attr[static_cast<size_t>(id)] |= kAttrRstrip;
    for (std::string_view s : {"<unk>", "<s>", "<|endoftext|>"})
      if (int32_t id = t.find(s); id >= 0) t.attr[static_cast<size_t>(id)] &= ~kAttrRstrip;
  }

  // ---- special-token matchers ----
  for (int32_t id = 0; id < n_tokens; ++id) {
    const std::string& s = t.text[static_cast<size_t>(id)];
    if (s.empty()) continue;
    if (t.has(id, kAttrControl | kAttrUnknown | kAttrUserDefined)) m.specials.add(s, id);
    if (t.has(id, kAttrUserDefined)) m.user_defined.add(s, id);
  }

  // ---- the encoder ----
  switch (v.kind) {
    case VocabKind::kSpm: m.spm = std::make_unique<SpmEncoder>(t, m.unk); break;
    case VocabKind::kBpe: m.bpe = std::make_unique<BpeEncoder>(t, v.merges, *spec); break;
    case VocabKind::kWpm: {
      const bool lower = v.lowercase.value_or(true);
      m.wpm = std::make_unique<WordPieceEncoder>(t, m.unk, lower, v.strip_accents.value_or(lower));
      break;
    }
  }

  // ---- pieces ----
  m.pieces.resize(n);
  m.skippable.assign(n, 0);
  for (int32_t id = 0; id < n_tokens; ++id) {
    const auto i = static_cast<size_t>(id);
    const std::string& s = t.text[i];
    const uint32_t a = t.attr[i];
    if (a & (kAttrControl | kAttrUnknown)) {
      m.pieces[i] = s;
      m.skippable[i] = 1;
    } else if (a & kAttrByte) {
      const int b = parse_byte_token(s);
      m.pieces[i] = b >= 0 ? std::string(1, static_cast<char>(b)) : s;
    } else if (a & kAttrUnused) {
      m.pieces[i] = s;
      m.skippable[i] = 1;
    } else if (v.kind == VocabKind::kBpe) {
      if (a & kAttrUserDefined)
        m.pieces[i] = s;
      else
        byte_level_decode(s, m.pieces[i]);
    } else {
      m.pieces[i] = replace_all(s, kSpaceMark, " ");
    }
  }
  impl_ = std::move(impl);
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
  const Impl& m = *impl_;
  std::string repaired;
  if (!is_valid_utf8(text)) {
    repaired = sanitize_utf8(text);
    text = repaired;
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + 4);
  if (add_special && m.add_bos) out.push_back(m.bos);

  const SpecialMatcher& matcher = parse_special ? m.specials : m.user_defined;
  bool after_special = true;  // the start counts as "after a special token" (SentencePiece's prefix space)
  size_t pos = 0, at = 0, len = 0;
  int32_t id = -1;
  auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (pos < text.size() && matcher.find(text, pos, at, len, id)) {
    size_t left_end = at;
    if (m.table.has(id, kAttrLstrip))
      while (left_end > pos && is_space(text[left_end - 1])) --left_end;
    if (left_end > pos) m.encode_fragment(text.substr(pos, left_end - pos), after_special, out);
    out.push_back(id);
    after_special = true;
    pos = at + len;
    if (m.table.has(id, kAttrRstrip))
      while (pos < text.size() && is_space(text[pos])) ++pos;
  }
  if (pos < text.size()) m.encode_fragment(text.substr(pos), after_special, out);

  if (add_special && m.add_eos) out.push_back(m.eos);
  if (add_special && m.add_sep) out.push_back(m.sep);
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  const Impl& m = *impl_;
  std::string out;
  bool strip = m.strip_leading_space;
  for (const int32_t id : ids) {
    m.check_id(id);
    const auto i = static_cast<size_t>(id);
    if (skip_special && m.skippable[i]) continue;
    const std::string& p = m.pieces[i];
    if (strip && !p.empty()) {
      strip = false;
      out.append(p, p[0] == ' ' ? 1 : 0);
    } else {
      out.append(p);
    }
  }
  return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool special) const {
  impl_->check_id(id);
  if (!special && impl_->skippable[static_cast<size_t>(id)]) return {};
  return impl_->pieces[static_cast<size_t>(id)];
}

const std::string& Tokenizer::token_text(int32_t id) const {
  impl_->check_id(id);
  return impl_->table.text[static_cast<size_t>(id)];
}

int32_t Tokenizer::text_to_token(std::string_view text) const { return impl_->table.find(text); }

VocabKind Tokenizer::kind() const { return impl_->kind; }
const std::string& Tokenizer::pre() const { return impl_->pre_name; }
int32_t Tokenizer::n_tokens() const { return impl_->table.size(); }

TokenType Tokenizer::token_type(int32_t id) const {
  impl_->check_id(id);
  const uint32_t a = impl_->table.attr[static_cast<size_t>(id)];
  if (a & kAttrUnknown) return TokenType::kUnknown;
  if (a & kAttrControl) return TokenType::kControl;
  if (a & kAttrUserDefined) return TokenType::kUserDefined;
  if (a & kAttrUnused) return TokenType::kUnused;
  if (a & kAttrByte) return TokenType::kByte;
  if (a & kAttrNormal) return TokenType::kNormal;
  return TokenType::kUndefined;
}

bool Tokenizer::is_control(int32_t id) const {
  impl_->check_id(id);
  return impl_->table.has(id, kAttrControl | kAttrUnknown);
}
bool Tokenizer::is_byte(int32_t id) const {
  impl_->check_id(id);
  return impl_->table.has(id, kAttrByte);
}
float Tokenizer::score(int32_t id) const {
  impl_->check_id(id);
  return impl_->table.score[static_cast<size_t>(id)];
}

int32_t Tokenizer::bos() const { return impl_->bos; }
int32_t Tokenizer::eos() const { return impl_->eos; }
int32_t Tokenizer::eot() const { return impl_->eot; }
int32_t Tokenizer::eom() const { return impl_->eom; }
int32_t Tokenizer::unk() const { return impl_->unk; }
int32_t Tokenizer::sep() const { return impl_->sep; }
int32_t Tokenizer::pad() const { return impl_->pad; }
bool Tokenizer::add_bos() const { return impl_->add_bos; }
bool Tokenizer::add_eos() const { return impl_->add_eos; }
bool Tokenizer::add_space_prefix() const { return impl_->add_space_prefix; }
bool Tokenizer::decode_strips_leading_space() const { return impl_->strip_leading_space; }
bool Tokenizer::is_eog(int32_t id) const {
  return id >= 0 && id < impl_->table.size() && impl_->is_eog[static_cast<size_t>(id)];
}
const std::vector<int32_t>& Tokenizer::eog_ids() const { return impl_->eog; }

}  // namespace quarrel::tokenizer
