#include "tokenizer/vocab.h"

#include "core/error.h"
#include "gguf/gguf_file.h"
#include "gguf/keys.h"

namespace quarrel::tokenizer {

namespace {

std::optional<int32_t> read_id(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_integer()) fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an integer", f.path(), key);
  const int64_t id = v->as_int();
  if (id < 0 || id > INT32_MAX) return -1;
  return static_cast<int32_t>(id);
}

std::optional<bool> read_bool(const gguf::GgufFile& f, std::string_view key) {
  const gguf::Value* v = f.find(key);
  if (!v) return std::nullopt;
  if (!v->is_bool()) fail(ErrorCode::kInvalidFile, "{}: key '{}' must be a bool", f.path(), key);
  return v->as_bool();
}

const gguf::Value* read_array(const gguf::GgufFile& f, std::string_view key, size_t min_size) {
  const gguf::Value* v = f.find(key);
  if (!v) return nullptr;
  if (!v->is_array()) fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an array", f.path(), key);
  if (v->size() < min_size)
    fail(ErrorCode::kInvalidFile, "{}: key '{}' has {} entries, fewer than the {} tokens", f.path(), key,
         v->size(), min_size);
  return v;
}

}  // namespace

const char* Vocab::model_name(VocabKind k) {
  switch (k) {
    case VocabKind::kSpm: return "llama";
    case VocabKind::kBpe: return "gpt2";
    case VocabKind::kWpm: return "bert";
  }
  return "?";
}

Vocab Vocab::from_gguf(const gguf::GgufFile& f) {
  namespace k = gguf::keys;
  Vocab v;
  const std::string model = f.get_string(k::kTokenizerModel);
  if (model == "llama") {
    v.kind = VocabKind::kSpm;
  } else if (model == "gpt2") {
    v.kind = VocabKind::kBpe;
  } else if (model == "bert") {
    v.kind = VocabKind::kWpm;
  } else {
    fail(ErrorCode::kUnsupported, "{}: tokenizer model '{}' is not supported (llama, gpt2, bert are)", f.path(), model);
  }
  v.pre = f.get_string_or(k::kTokenizerPre, "");
  v.name = f.get_string_or(k::kGeneralName, "");

  const gguf::Value& toks = f.get(k::kTokenizerTokens);
  if (!toks.is_array() || toks.array_type() != gguf::ValueType::kString)
    fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an array of strings", f.path(), k::kTokenizerTokens);
  if (toks.size() == 0) fail(ErrorCode::kInvalidFile, "{}: key '{}' is empty", f.path(), k::kTokenizerTokens);
  if (toks.size() > static_cast<size_t>(INT32_MAX))
    fail(ErrorCode::kInvalidFile, "{}: too many tokens ({})", f.path(), toks.size());
  v.tokens.reserve(toks.size());
  for (const gguf::Value& t : toks.items()) v.tokens.push_back(t.as_string());
  const size_t n = v.tokens.size();

  if (const gguf::Value* s = read_array(f, k::kTokenizerScores, n)) {
    if (s->array_type() != gguf::ValueType::kF32 && s->array_type() != gguf::ValueType::kI32)
      fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an array of f32", f.path(), k::kTokenizerScores);
    v.scores.reserve(n);
    const auto& items = s->items();
    for (size_t i = 0; i < n; ++i) v.scores.push_back(static_cast<float>(items[i].as_float()));
  }
  if (const gguf::Value* t = read_array(f, k::kTokenizerTokenType, n)) {
    if (!(t->array_type() == gguf::ValueType::kI32 || t->array_type() == gguf::ValueType::kU32))
      fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an array of i32", f.path(), k::kTokenizerTokenType);
    v.token_types.reserve(n);
    const auto& items = t->items();
    for (size_t i = 0; i < n; ++i) v.token_types.push_back(static_cast<int32_t>(items[i].as_int()));
  }
  if (const gguf::Value* m = f.find(k::kTokenizerMerges)) {
    if (!m->is_array() || (m->size() > 0 && m->array_type() != gguf::ValueType::kString))
      fail(ErrorCode::kInvalidFile, "{}: key '{}' must be an array of strings", f.path(), k::kTokenizerMerges);
    v.merges.reserve(m->size());
    for (const gguf::Value& s : m->items()) v.merges.push_back(s.as_string());
  } else if (v.kind == VocabKind::kBpe) {
    fail(ErrorCode::kInvalidFile, "{}: byte-level BPE tokenizer without '{}'", f.path(), k::kTokenizerMerges);
  }

  v.bos = read_id(f, k::kTokenizerBosId);
  if (!v.bos && v.kind == VocabKind::kWpm) v.bos = read_id(f, k::kTokenizerClsId);
  v.eos = read_id(f, k::kTokenizerEosId);
  v.eot = read_id(f, k::kTokenizerEotId);
  v.eom = read_id(f, k::kTokenizerEomId);
  v.unk = read_id(f, k::kTokenizerUnknownId);
  v.sep = read_id(f, k::kTokenizerSeparatorId);
  v.pad = read_id(f, k::kTokenizerPaddingId);
  v.mask = read_id(f, k::kTokenizerMaskId);
  v.fim_pre = read_id(f, k::kTokenizerFimPreId);
  if (!v.fim_pre) v.fim_pre = read_id(f, "tokenizer.ggml.prefix_token_id");
  v.fim_suf = read_id(f, k::kTokenizerFimSufId);
  if (!v.fim_suf) v.fim_suf = read_id(f, "tokenizer.ggml.suffix_token_id");
  v.fim_mid = read_id(f, k::kTokenizerFimMidId);
  if (!v.fim_mid) v.fim_mid = read_id(f, "tokenizer.ggml.middle_token_id");
  v.fim_pad = read_id(f, "tokenizer.ggml.fim_pad_token_id");
  v.fim_rep = read_id(f, "tokenizer.ggml.fim_rep_token_id");
  v.fim_sep = read_id(f, "tokenizer.ggml.fim_sep_token_id");

  v.add_bos = read_bool(f, k::kTokenizerAddBos);
  v.add_eos = read_bool(f, k::kTokenizerAddEos);
  v.add_sep = read_bool(f, "tokenizer.ggml.add_sep_token");
  v.add_space_prefix = read_bool(f, k::kTokenizerAddSpacePrefix);
  v.lowercase = read_bool(f, "tokenizer.ggml.normalizer.lowercase");
  v.strip_accents = read_bool(f, "tokenizer.ggml.normalizer.strip_accents");
  return v;
}

}  // namespace quarrel::tokenizer
