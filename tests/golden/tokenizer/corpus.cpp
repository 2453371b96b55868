#include "corpus.h"

#include <random>

namespace quarrel::test {

namespace {

const std::vector<std::string>& prose() {
  static const std::vector<std::string> v = {
      "The quick brown fox jumps over the lazy dog.",
      "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of "
      "foolishness, it was the epoch of belief, it was the epoch of incredulity.",
      "Call me Ishmael. Some years ago - never mind how long precisely - having little or no money in my purse, "
      "and nothing particular to interest me on shore, I thought I would sail about a little.",
      "\"Well,\" she said, \"I don't know what you're talking about; we'll see.\"",
      "Dr. Smith arrived at 9:45 a.m. on Jan. 3rd (a Tuesday) -- late, as usual!",
      "Hello world", " Hello world", "Hello World!", "HELLO, WORLD?!", "hello...world", "e-mail: someone@example.com",
      "https://www.example.org/path/to/page?query=1&other=two#anchor",
      "Question: what is 2+2? Answer: 4. Really? Yes!!!", "Mr. O'Neil's dog's bone", "rock 'n' roll",
      "Naïve café owners in Zürich serve crème brûlée and jalapeño piñatas.", "Ångström, façade, coöperate, résumé",
  };
  return v;
}

const std::vector<std::string>& code() {
  static const std::vector<std::string> v = {
      "int main(int argc, char** argv) {\n  std::printf(\"%d\\n\", argc);\n  return 0;\n}\n",
      "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n",
      "for (size_t i = 0; i < v.size(); ++i) { sum += v[i] * 0.5f; }",
      "{\"name\": \"quarrel\", \"version\": [0, 1, 0], \"ok\": true, \"nested\": {\"a\": null}}",
      "SELECT id, name FROM users WHERE age >= 18 AND name LIKE '%son' ORDER BY id DESC;",
      "\tif (x != y && !flag) {\n\t\tx <<= 2; y >>= 1; z ^= ~w;\n\t}\n",
      "const f = async (a, b) => { await sleep(100); return a ?? b; };",
      "#include <vector>\n#define MAX(a, b) ((a) > (b) ? (a) : (b))\n",
      "    // comment with trailing spaces   \n", "x=1;y=2;z=x**y//3%4", "<div class=\"main\"><p>Hi</p></div>",
      "$ ls -la | grep '^d' > out.txt 2>&1", "a_b_c __init__ CamelCaseName snake_case_name kebab-case-name",
  };
  return v;
}

const std::vector<std::string>& scripts() {
  static const std::vector<std::string> v = {
      "我想在apple工作1314151天～", "你好，世界！今天天气很好。", "東京は日本の首都です。ひらがなとカタカナ。",
      "안녕하세요, 세계! 한국어 문장입니다.", "مرحبا بالعالم! هذه جملة عربية.", "السلام عليكم ورحمة الله",
      "שלום עולם", "नमस्ते दुनिया, यह हिंदी है।", "สวัสดีชาวโลก", "Привет, мир! Как дела?", "нещо на Български",
      "Γειά σου Κόσμε! αβγδε ΑΒΓΔΕ", "Tiếng Việt có dấu: Nguyễn Văn Anh", "ქართული ენა", "Ελληνικά ΣΊΣΥΦΟΣ",
      "កាន់តែពិសេសអាចខលចេញ", "ied 4 ½ months", "Führer", "ﬁnance ﬂow", "ＡＢＣ　全角スペース　ｘｙｚ",
      "e\xCC\x81 (e + combining acute) versus \xC3\xA9", "A\xCC\x8A vs \xC3\x85", "\xE1\x84\x92\xE1\x85\xA1\xE1\x86\xAB (jamo)",
      "x\xC2\xA0y\xE2\x80\x83z\xE3\x80\x80w", "line\xE2\x80\xA8sep\xE2\x80\xA9para", "zero\xE2\x80\x8Bwidth",
  };
  return v;
}

const std::vector<std::string>& emoji() {
  static const std::vector<std::string> v = {
      "🚀 (normal) 😶‍🌫️ (multiple emojis concatenated) ✅ (only emoji that has its own token)",
      "👨‍👩‍👧‍👦 family", "🇺🇸🇯🇵🇩🇪 flags", "👍🏽👍🏿 skin tones", "1️⃣ #️⃣ keycaps", "❤️🔥✨💯",
      "this is 🦙.cpp", "😁 ?", "🤖🤖🤖", "♥ ☺ ✓ ★ ☂", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝕞𝕒𝕥𝕙", "𓀀𓁐",
  };
  return v;
}

const std::vector<std::string>& contractions() {
  static const std::vector<std::string> v = {
      "don't", "I'll", "we've", "she's", "THEY'RE", "it'S", "y'all", "o'clock", "I'm", "you'd", "Ma'am",
      "' era", "'s 't 're 've 'm 'll 'd", "'S 'T 'RE 'VE 'M 'LL 'D", "can't won't shouldn't've",
      "'''", "Hello, y'all! How are you 😁 ?",
  };
  return v;
}

std::string digits(size_t n, std::mt19937_64& rng) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
  return s;
}

const std::vector<std::string>& invalid_utf8() {
  static const std::vector<std::string> v = {
      "\x80", "abc\x80" "def", "\xC3", "caf\xC3", "\xE2\x82", "x\xE2\x82y", "\xF0\x9F\x98", "\xF0\x9F\x98 ok",
      "\xC0\x80 overlong", "\xE0\x80\xAF", "\xED\xA0\x80 surrogate", "\xF4\x90\x80\x80 too big", "\xF5\xFF\xFE",
      "\xFF", "a\xFE" "b", "\xC2\xC2\xC2", "\xE2\x28\xA1", "\xF0\x28\x8C\x28", "ok \xC3\xA9 \xE9 \xE2\x82\xAC \xE2\x82",
      "\xEF\xBF\xBD already a replacement char",
  };
  return v;
}

}  // namespace

std::string escape_text(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::vector<std::string> tokenizer_corpus(uint64_t seed, const std::vector<std::string>& special_texts,
                                          size_t n_random) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> c;
  auto add_all = [&](const std::vector<std::string>& v) { c.insert(c.end(), v.begin(), v.end()); };
  add_all(prose());
  add_all(code());
  add_all(scripts());
  add_all(emoji());
  add_all(contractions());
  add_all(invalid_utf8());

  // Numbers of every length, alone and in text.
  for (size_t n = 1; n <= 40; ++n) {
    c.push_back(std::string(n, '3'));
    c.push_back(digits(n, rng));
    c.push_back(std::string("x").append(digits(n, rng)).append(" y ").append(digits(n, rng)).append("."));
  }
  for (const char* s : {"1,234,567.89", "-42", "+3.14159", "1e-10", "0x1F", "2024-06-01T12:34:56Z", "$1,000", "50%",
                        "v1.2.3", "abc123def456", "١٢٣٤٥ (Arabic-Indic)", "１２３ (full-width)", "½ ¾ ²³", "Ⅻ ⅷ"})
    c.emplace_back(s);

  // Whitespace: runs of spaces, tabs, newlines, mixed, leading and trailing.
  for (size_t n = 1; n <= 17; ++n) {
    c.push_back(std::string(n, ' '));
    c.push_back(std::string(n, '\n'));
    c.push_back(std::string(n, '\t'));
    c.push_back(std::string("a").append(n, ' ').append("b"));
    c.push_back(std::string(n, ' ') + "Hello");
    c.push_back(std::string("word").append(n, ' '));
  }
  for (const char* s : {"\r\n", "a\r\nb\r\n", " \n", "\n ", "\t\n", " \t \n \t", "\n\n\n\n", "  \n\n  x  \n",
                        "end.\n\n\nNext paragraph.", "    Hello\n    Hello", "\n =", " (", "\v\f", ""})
    c.emplace_back(s);

  // Special tokens written in text.
  for (const std::string& sp : special_texts) {
    c.push_back(sp);
    c.push_back(std::string("text ").append(sp).append(" more"));
    c.push_back(sp + "Hello" + sp);
    c.push_back(std::string("a").append(sp).append(sp).append("b"));
    c.push_back(std::string(" ").append(sp).append("\n"));
  }

  // Random mixtures of all of the above.
  std::vector<const std::vector<std::string>*> pools = {&prose(), &code(), &scripts(), &emoji(), &contractions(),
                                                        &invalid_utf8(), &special_texts};
  const char* seps[] = {"", " ", "  ", "\n", "\t", " \n", "\n\n", ", ", "   ", "\r\n"};
  for (size_t i = 0; i < n_random; ++i) {
    std::string s;
    const size_t parts = 1 + rng() % 6;
    for (size_t p = 0; p < parts; ++p) {
      if (p > 0) s += seps[rng() % std::size(seps)];
      const size_t kind = rng() % (pools.size() + 2);
      if (kind == pools.size()) {
        s += digits(1 + rng() % 12, rng);
      } else if (kind == pools.size() + 1) {
        s += std::string(1 + rng() % 6, " \t\n"[rng() % 3]);
      } else if (!pools[kind]->empty()) {
        const std::string& frag = (*pools[kind])[rng() % pools[kind]->size()];
        // Sometimes only a piece of a fragment (possibly cutting a character in two).
        if (rng() % 4 == 0 && frag.size() > 2) {
          const size_t a = rng() % frag.size(), b = a + 1 + rng() % (frag.size() - a);
          s += frag.substr(a, b - a);
        } else {
          s += frag;
        }
      }
    }
    c.push_back(std::move(s));
  }
  return c;
}

}  // namespace quarrel::test
