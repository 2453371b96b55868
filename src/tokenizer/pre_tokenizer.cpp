#include "tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/error.h"

namespace quarrel::tokenizer {

namespace {

// The families' regexes, as their tokenizer.json (or llama.cpp, where the family's split is a
// sequence of several) gives them.
constexpr const char* kGpt2 =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re";
constexpr const char* kLlama3 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kQwen2 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kQwen35 =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kGpt4o =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kTekken =
    R"re([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";
constexpr const char* kSeedCoder =
    R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+)re";
// GPT-2 without the final `\s+` (llama.cpp's form for the multi-regex families; the text
// between matches is kept anyway, so the pieces are the same).
constexpr const char* kGpt2NoTail =
    R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))re";
constexpr const char* kPunctRun = R"re([\p{P}\$\+<=>\^~\|]+)re";
constexpr const char* kBloom =
    R"re( ?[^(\s|.,!?\x{2026}\x{3002}\x{FF0C}\x{3001}\x{964}\x{6D4}\x{60C})]+)re";
// DeepSeek LLM: cased letters, ASCII/full-width punctuation, CJK, numbers.
constexpr const char* kDeepseekLetters =
    R"re(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)re";
constexpr const char* kDeepseekPunct =
    R"re(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)re";
constexpr const char* kDeepseekCjk = R"re([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)re";
constexpr const char* kDeepseek3Cjk = R"re([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)re";
constexpr const char* kDeepseek3Main =
    R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re";

std::vector<PreTokenizerSpec> make_specs() {
  std::vector<PreTokenizerSpec> s;
  auto add = [&](std::string name, std::vector<std::string> aliases, std::vector<std::string> regexes) -> PreTokenizerSpec& {
    s.push_back(PreTokenizerSpec{std::move(name), std::move(aliases), std::move(regexes)});
    return s.back();
  };
  add("default", {}, {kPunctRun, kGpt2NoTail, R"re(\p{N}+)re", "[0-9][0-9][0-9]"});
  add("gpt-2", {"phi-2", "mpt", "olmo", "jais", "jina-es", "jina-de", "jina-v2-es", "jina-v2-de", "jina-v1-en",
                "jina-v2-code", "roberta-bpe", "gigachat", "a.x-4.0", "mellum", "modern-bert", "exaone4",
                "trillion", "granite-docling"},
      {kGpt2});
  {
    auto& l = add("llama-bpe", {"llama3", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2"}, {kLlama3});
    l.ignore_merges = true;
    l.add_bos = true;
  }
  add("dbrx", {}, {kLlama3});
  add("smaug-bpe", {}, {kLlama3});
  add("chatglm-bpe", {"glm4"}, {kLlama3}).no_bos = true;
  add("qwen2", {"deepseek-r1-qwen"}, {kQwen2}).nfc = true;  // Qwen's tokenizer.json normalizes to NFC
  add("stablelm2", {"megrez", "kormo", "f2llmv2", "hunyuan", "solar-open"}, {kQwen2});
  add("qwen35", {}, {kQwen35}).nfc = true;
  add("deepseek-llm", {}, {"[\\r\\n]", kDeepseekLetters, kDeepseekPunct, R"re(\s+$)re", kDeepseekCjk, R"re(\p{N}+)re"});
  add("deepseek-coder", {}, {"[\\r\\n]", R"re(\s?\p{L}+)re", R"re(\s?\p{P}+)re", kDeepseekCjk, R"re(\p{N})re"});
  add("deepseek-v3", {"hunyuan-dense", "joyai-llm", "hy_v4"}, {R"re(\p{N}{1,3})re", kDeepseek3Cjk, kDeepseek3Main});
  add("falcon", {}, {kPunctRun, kGpt2NoTail, "[0-9][0-9][0-9]"});
  add("starcoder", {"refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"},
      {R"re(\p{N})re", kGpt2NoTail});
  add("bloom", {"poro-chat", "gpt3-finnish"}, {kBloom});
  add("viking", {}, {kBloom, R"re(\p{N})re"});
  {
    auto& t = add("tekken", {}, {kTekken});
    t.ignore_merges = true;
    t.add_bos = true;
  }
  add("gpt-4o", {"llama4", "kanana2", "minimax-m2", "talkie"}, {kGpt4o});
  add("seed-coder", {}, {kSeedCoder});
  return s;
}

// Onig's \s: U+0009..U+000D, U+0085 and the separators (Zs, Zl, Zp).
constexpr const char* kSpaceClassBody = R"(\t-\r\x{85}\p{Z})";

}  // namespace

const std::vector<PreTokenizerSpec>& pre_tokenizer_specs() {
  static const std::vector<PreTokenizerSpec> specs = make_specs();
  return specs;
}

const PreTokenizerSpec* find_pre_tokenizer(std::string_view name) {
  for (const auto& s : pre_tokenizer_specs()) {
    if (s.name == name) return &s;
    for (const auto& a : s.aliases)
      if (a == name) return &s;
  }
  return nullptr;
}

std::string translate_regex(std::string_view re) {
  std::string out;
  out.reserve(re.size() + 32);
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      const char e = re[i + 1];
      if (e == 's') {
        out += in_class ? kSpaceClassBody : std::string("[") + kSpaceClassBody + "]";
      } else if (e == 'S') {
        if (in_class) fail(ErrorCode::kInvalidArgument, "regex '{}': \\S inside a character class is not supported", re);
        out += std::string("[^") + kSpaceClassBody + "]";
      } else {
        out += c;
        out += e;
      }
      ++i;
      continue;
    }
    if (!in_class && c == '[') {
      in_class = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal.
      if (i + 1 < re.size() && re[i + 1] == '^') out += re[++i];
      if (i + 1 < re.size() && re[i + 1] == ']') out += re[++i];
      continue;
    }
    if (in_class && c == ']') in_class = false;
    out += c;
  }
  return out;
}

// ---- compiled regexes ------------------------------------------------------------------------

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
  std::string source;
  ~Compiled() {
    if (code) pcre2_code_free(code);
  }
};

namespace {

// Per-thread match state (PCRE2 match data and JIT stacks are not shareable across threads).
struct MatchScratch {
  pcre2_match_data* md = nullptr;
  pcre2_match_context* mctx = nullptr;
  pcre2_jit_stack* stack = nullptr;
  MatchScratch() {
    md = pcre2_match_data_create(1, nullptr);
    mctx = pcre2_match_context_create(nullptr);
    stack = pcre2_jit_stack_create(32 * 1024, 4 * 1024 * 1024, nullptr);
    if (!md || !mctx || !stack) fail(ErrorCode::kOutOfMemory, "cannot allocate PCRE2 match state");
    pcre2_jit_stack_assign(mctx, nullptr, stack);
  }
  ~MatchScratch() {
    pcre2_jit_stack_free(stack);
    pcre2_match_context_free(mctx);
    pcre2_match_data_free(md);
  }
  MatchScratch(const MatchScratch&) = delete;
  MatchScratch& operator=(const MatchScratch&) = delete;
};

MatchScratch& scratch() {
  thread_local MatchScratch s;
  return s;
}

}  // namespace

PreTokenizer::PreTokenizer(const PreTokenizerSpec& spec) : spec_(spec) {
  for (const auto& re : spec_.regexes) {
    auto c = std::make_unique<Compiled>();
    c->source = translate_regex(re);
    int err = 0;
    PCRE2_SIZE off = 0;
    c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(c->source.data()), c->source.size(),
                            PCRE2_UTF | PCRE2_UCP, &err, &off, nullptr);
    if (!c->code) {
      PCRE2_UCHAR msg[256];
      pcre2_get_error_message(err, msg, sizeof msg);
      fail(ErrorCode::kInternal, "pre-tokenizer '{}': regex does not compile at offset {}: {}", spec_.name, off,
           reinterpret_cast<const char*>(msg));
    }
    c->jit = pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE) == 0;
    regexes_.push_back(std::move(c));
  }
}

PreTokenizer::~PreTokenizer() = default;
PreTokenizer::PreTokenizer(PreTokenizer&&) noexcept = default;
PreTokenizer& PreTokenizer::operator=(PreTokenizer&&) noexcept = default;

namespace {

// One match of `c` in subject[start, len). Returns false when there is none.
bool find_match(const pcre2_code* code, bool jit, const char* subject, size_t len, size_t start,
                size_t& ms, size_t& me) {
  MatchScratch& s = scratch();
  const auto* subj = reinterpret_cast<PCRE2_SPTR>(subject);
  int rc = jit ? pcre2_jit_match(code, subj, len, start, 0, s.md, s.mctx)
               : pcre2_match(code, subj, len, start, PCRE2_NO_UTF_CHECK, s.md, s.mctx);
  if (rc == PCRE2_ERROR_JIT_STACKLIMIT)  // very long runs: the interpreter keeps its stack on the heap
    rc = pcre2_match(code, subj, len, start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT, s.md, s.mctx);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) {
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    fail(ErrorCode::kInvalidArgument, "pre-tokenizer regex failed on the input: {}", reinterpret_cast<const char*>(msg));
  }
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.md);
  ms = ov[0];
  me = ov[1];
  return true;
}

size_t utf8_len(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

// Splits [b, e) of text with one regex, appending matches and the gaps between them.
void split_one(const pcre2_code* code, bool jit, std::string_view text, size_t b, size_t e,
               std::vector<std::pair<size_t, size_t>>& out) {
  const char* subject = text.data() + b;
  const size_t len = e - b;
  size_t pos = 0, prev = 0, ms = 0, me = 0;
  while (pos <= len && find_match(code, jit, subject, len, pos, ms, me)) {
    if (ms > prev) out.emplace_back(b + prev, b + ms);
    if (me > ms) {
      out.emplace_back(b + ms, b + me);
      prev = me;
      pos = me;
    } else {  // an empty match: step over one character
      if (ms >= len) break;
      pos = ms + utf8_len(static_cast<unsigned char>(subject[ms]));
    }
  }
  if (prev < len) out.emplace_back(b + prev, e);
}

}  // namespace

void PreTokenizer::split(std::string_view text, std::vector<std::pair<size_t, size_t>>& out) const {
  if (text.empty()) return;
  if (regexes_.size() == 1) {
    split_one(regexes_[0]->code, regexes_[0]->jit, text, 0, text.size(), out);
    return;
  }
  std::vector<std::pair<size_t, size_t>> cur{{0, text.size()}}, next;
  for (size_t r = 0; r < regexes_.size(); ++r) {
    auto& dst = r + 1 == regexes_.size() ? out : next;
    if (&dst == &next) next.clear();
    for (const auto& [b, e] : cur) split_one(regexes_[r]->code, regexes_[r]->jit, text, b, e, dst);
    if (&dst == &next) std::swap(cur, next);
  }
}

}  // namespace quarrel::tokenizer
