#include "reference/tiny_checkpoint.h"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <stdexcept>

#include "convert/safetensors_writer.h"
#include "core/fp16.h"

namespace quarrel::test {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary);
  out << s;
  if (!out) throw std::runtime_error("cannot write " + p.string());
}

// GPT-2's byte -> printable code point table.
std::string byte_token(int b) {
  auto printable = [](int x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255); };
  int cp = b;
  if (!printable(b)) {
    int n = 0;
    for (int x = 0; x < b; ++x) n += !printable(x);
    cp = 256 + n;
  }
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else {
    s += static_cast<char>(0xC0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return s;
}

bool is_gemma(const std::string& f) { return f == "gemma2" || f == "gemma3"; }

}  // namespace

std::vector<std::string> tiny_families() {
  return {"llama", "mistral", "mixtral", "granite", "qwen2", "qwen3", "qwen3moe", "gemma2", "gemma3", "phi3"};
}

void write_tiny_tokenizer(const fs::path& dir) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_token(b)] = b;
  const std::string sp = byte_token(' ');
  vocab[sp + "t"] = 256;
  vocab["he"] = 257;
  json added = json::array();
  int id = 258;
  for (const char* s : {"<s>", "</s>"})
    added.push_back({{"id", id++}, {"content", s}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                     {"normalized", false}, {"special", true}});
  const json tok = {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens", added},
      {"normalizer", nullptr},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false}, {"ignore_merges", false},
        {"vocab", vocab}, {"merges", json::array({sp + " t", "h e"})}}},
  };
  write_text(dir / "tokenizer.json", tok.dump());
  const json cfg = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_bos_token", true},
                    {"chat_template", "{% for m in messages %}{{ m['content'] }}{% endfor %}"}};
  write_text(dir / "tokenizer_config.json", cfg.dump(2));
}

const refweights::TensorSpec& TinyCheckpoint::spec(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return t;
  throw std::runtime_error("tiny checkpoint has no tensor " + name);
}

float TinyCheckpoint::weight(const std::string& name, int64_t index) const {
  const auto& s = spec(name);
  const float v = refweights::value(s.name, static_cast<uint64_t>(index), s.scale, s.offset);
  if (dtype == convert::StDtype::kF16) return fp16_to_f32(f32_to_fp16(v));
  if (dtype == convert::StDtype::kBF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

TinyCheckpoint make_tiny(const std::string& family, const TinyOptions& opt) {
  TinyCheckpoint c;
  c.dtype = opt.dtype;
  const bool gemma = is_gemma(family);
  const bool moe = family == "mixtral" || family == "qwen3moe";
  if (family == "qwen3") c.head_dim = 24;  // not hidden / heads: key_length must be written
  if (moe) {
    c.n_expert = 4;
    c.n_expert_used = 2;
    c.n_ff_expert = family == "qwen3moe" ? 32 : c.n_ff;
  }
  const int64_t V = c.n_vocab, E = c.n_embd, H = c.n_head, KV = c.n_head_kv, D = c.head_dim, F = c.n_ff;

  static const std::map<std::string, std::pair<const char*, const char*>> kNames = {
      {"llama", {"LlamaForCausalLM", "llama"}},       {"mistral", {"MistralForCausalLM", "mistral"}},
      {"mixtral", {"MixtralForCausalLM", "mixtral"}}, {"granite", {"GraniteForCausalLM", "granite"}},
      {"qwen2", {"Qwen2ForCausalLM", "qwen2"}},       {"qwen3", {"Qwen3ForCausalLM", "qwen3"}},
      {"qwen3moe", {"Qwen3MoeForCausalLM", "qwen3_moe"}}, {"gemma2", {"Gemma2ForCausalLM", "gemma2"}},
      {"gemma3", {"Gemma3ForCausalLM", "gemma3_text"}}, {"phi3", {"Phi3ForCausalLM", "phi3"}},
  };
  const auto names = kNames.at(family);
  json& j = c.config;
  j = {{"architectures", {names.first}}, {"model_type", names.second}, {"hidden_size", E},
       {"intermediate_size", F},         {"num_hidden_layers", c.n_layer}, {"num_attention_heads", H},
       {"num_key_value_heads", KV},      {"max_position_embeddings", 256}, {"rms_norm_eps", 1e-5},
       {"vocab_size", V},                {"bos_token_id", 258},            {"eos_token_id", 259},
       {"torch_dtype", "float32"}};
  const bool tied = family == "granite" || family == "qwen2" || family == "qwen3" || gemma;
  j["tie_word_embeddings"] = tied;
  if (family == "qwen3" || gemma) j["head_dim"] = D;
  json rope = {{"rope_type", "default"}, {"rope_theta", family == "qwen3" ? 1000000.0 : 10000.0}};
  if (family == "llama" && opt.llama3_rope)
    rope = {{"rope_type", "llama3"}, {"rope_theta", 500000.0}, {"factor", 8.0}, {"low_freq_factor", 1.0},
            {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 64}};
  if (family == "gemma3") {
    j["rope_parameters"] = {{"full_attention", {{"rope_type", "linear"}, {"rope_theta", 1000000.0}, {"factor", 8.0}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}};
    j["layer_types"] = {"sliding_attention", "sliding_attention"};
    j["sliding_window"] = 16;
    j["query_pre_attn_scalar"] = D;
    j["final_logit_softcapping"] = nullptr;
    j["attn_logit_softcapping"] = nullptr;
  } else if (opt.transformers4_rope) {
    j["rope_theta"] = rope["rope_theta"];
    json scaling = rope;
    scaling.erase("rope_theta");
    j["rope_scaling"] = scaling["rope_type"] == "default" ? json(nullptr) : scaling;
  } else {
    j["rope_parameters"] = rope;
  }
  if (family == "mistral") j["sliding_window"] = 16;
  if (family == "mixtral") {
    j["num_local_experts"] = c.n_expert;
    j["num_experts_per_tok"] = c.n_expert_used;
    j["sliding_window"] = nullptr;
  }
  if (family == "qwen3moe") {
    j["num_experts"] = c.n_expert;
    j["num_experts_per_tok"] = c.n_expert_used;
    j["moe_intermediate_size"] = c.n_ff_expert;
    j["norm_topk_prob"] = true;
    j["decoder_sparse_step"] = 1;
    j["mlp_only_layers"] = json::array();
  }
  if (family == "granite") {
    j["embedding_multiplier"] = 12.0;
    j["residual_multiplier"] = 0.22;
    j["attention_multiplier"] = 0.0625;
    j["logits_scaling"] = 4.0;
  }
  if (family == "gemma2") {
    j["sliding_window"] = 16;
    j["attn_logit_softcapping"] = 50.0;
    j["final_logit_softcapping"] = 30.0;
    j["query_pre_attn_scalar"] = D;
  }
  if (family == "phi3") {
    j["original_max_position_embeddings"] = 256;
    j["sliding_window"] = 32;
  }
  if (family == "qwen2" || family == "qwen3") j["use_sliding_window"] = false;

  const double norm_offset = gemma ? 0.0 : 1.0;
  auto add = [&](std::string name, std::vector<int64_t> shape, double scale = 0.1, double offset = 0.0) {
    c.tensors.push_back({std::move(name), std::move(shape), scale, offset});
  };
  add("model.embed_tokens.weight", {V, E});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    const std::string p = fmt::format("model.layers.{}.", l);
    add(p + "input_layernorm.weight", {E}, 0.1, norm_offset);
    if (family == "phi3") {
      add(p + "self_attn.qkv_proj.weight", {(H + 2 * KV) * D, E});
    } else {
      add(p + "self_attn.q_proj.weight", {H * D, E});
      add(p + "self_attn.k_proj.weight", {KV * D, E});
      add(p + "self_attn.v_proj.weight", {KV * D, E});
    }
    if (family == "qwen2") {
      add(p + "self_attn.q_proj.bias", {H * D});
      add(p + "self_attn.k_proj.bias", {KV * D});
      add(p + "self_attn.v_proj.bias", {KV * D});
    }
    add(p + "self_attn.o_proj.weight", {E, H * D});
    if (family == "qwen3" || family == "qwen3moe" || family == "gemma3") {
      add(p + "self_attn.q_norm.weight", {D}, 0.1, norm_offset);
      add(p + "self_attn.k_norm.weight", {D}, 0.1, norm_offset);
    }
    add(p + "post_attention_layernorm.weight", {E}, 0.1, norm_offset);
    if (gemma) {
      add(p + "pre_feedforward_layernorm.weight", {E}, 0.1, norm_offset);
      add(p + "post_feedforward_layernorm.weight", {E}, 0.1, norm_offset);
    }
    if (family == "phi3") {
      add(p + "mlp.gate_up_proj.weight", {2 * F, E});
      add(p + "mlp.down_proj.weight", {E, F});
    } else if (moe) {
      const int64_t X = c.n_expert, FE = c.n_ff_expert;
      const std::string moe_p = family == "mixtral" && !opt.fused_experts ? p + "block_sparse_moe." : p + "mlp.";
      add(moe_p + "gate.weight", {X, E});
      if (opt.fused_experts) {
        add(moe_p + "experts.gate_up_proj", {X, 2 * FE, E});
        add(moe_p + "experts.down_proj", {X, E, FE});
      } else {
        for (int64_t x = 0; x < X; ++x) {
          const std::string ep = moe_p + fmt::format("experts.{}.", x);
          if (family == "mixtral") {
            add(ep + "w1.weight", {FE, E});
            add(ep + "w2.weight", {E, FE});
            add(ep + "w3.weight", {FE, E});
          } else {
            add(ep + "gate_proj.weight", {FE, E});
            add(ep + "up_proj.weight", {FE, E});
            add(ep + "down_proj.weight", {E, FE});
          }
        }
      }
    } else {
      add(p + "mlp.gate_proj.weight", {F, E});
      add(p + "mlp.up_proj.weight", {F, E});
      add(p + "mlp.down_proj.weight", {E, F});
    }
  }
  add("model.norm.weight", {E}, 0.1, norm_offset);
  if (!tied) add("lm_head.weight", {V, E});
  return c;
}

void write_tiny(const TinyCheckpoint& c, const fs::path& dir, const TinyOptions& opt) {
  fs::create_directories(dir);
  write_text(dir / "config.json", c.config.dump(2));
  write_text(dir / "generation_config.json", json({{"bos_token_id", 258}, {"eos_token_id", 259}}).dump());
  write_tiny_tokenizer(dir);
  const int shards = std::max(1, opt.shards);
  std::vector<convert::SafetensorsWriter> writers(static_cast<size_t>(shards));
  json weight_map = json::object();
  for (size_t i = 0; i < c.tensors.size(); ++i) {
    const auto& t = c.tensors[i];
    const size_t s = i * static_cast<size_t>(shards) / c.tensors.size();
    const std::string file = shards == 1 ? "model.safetensors"
                                         : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    weight_map[t.name] = file;
    const std::string name = t.name;
    const double scale = t.scale, offset = t.offset;
    writers[s].add(t.name, opt.dtype, t.shape, [name, scale, offset](int64_t first, int64_t n, float* dst) {
      refweights::fill(name, scale, offset, 0, static_cast<uint64_t>(first), static_cast<uint64_t>(n), dst);
    });
  }
  for (int s = 0; s < shards; ++s) {
    const std::string file = shards == 1 ? "model.safetensors"
                                         : fmt::format("model-{:05d}-of-{:05d}.safetensors", s + 1, shards);
    writers[static_cast<size_t>(s)].write((dir / file).string());
  }
  if (shards > 1)
    write_text(dir / "model.safetensors.index.json",
               json({{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}).dump(2));
}

}  // namespace quarrel::test
