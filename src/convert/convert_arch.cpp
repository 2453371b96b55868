#include "convert/convert_arch.h"

#include <algorithm>
#include <array>

#include "core/error.h"

namespace quarrel::convert {
namespace {

constexpr std::array kRules = {
    ArchRule{"LlamaForCausalLM", "llama", Family::kLlama, false},
    ArchRule{"MistralForCausalLM", "llama", Family::kLlama, false},  // "mistral" when it has a sliding window
    ArchRule{"MixtralForCausalLM", "llama", Family::kLlama, true},
    ArchRule{"GraniteForCausalLM", "granite", Family::kLlama, false},
    ArchRule{"Qwen2ForCausalLM", "qwen2", Family::kQwen, false},
    ArchRule{"Qwen3ForCausalLM", "qwen3", Family::kQwen, false},
    ArchRule{"Qwen3MoeForCausalLM", "qwen3moe", Family::kQwen, true},
    ArchRule{"Gemma2ForCausalLM", "gemma2", Family::kGemma2, false},
    ArchRule{"Gemma3ForCausalLM", "gemma3", Family::kGemma3, false},
    ArchRule{"Gemma3ForConditionalGeneration", "gemma3", Family::kGemma3, false},  // the text model only
    ArchRule{"Phi3ForCausalLM", "phi3", Family::kPhi3, false},
};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

const ArchRule* find_arch_rule(std::string_view hf_arch) {
  for (const auto& r : kRules)
    if (r.hf_arch == hf_arch) return &r;
  return nullptr;
}

std::string supported_hf_architectures() {
  std::string s;
  for (const auto& r : kRules) s += (s.empty() ? "" : ", ") + std::string(r.hf_arch);
  return s;
}

ModelDims read_dims(const ArchRule& rule, const HfCheckpoint& ckpt) {
  const HfConfig& c = ckpt.config();
  ModelDims d;
  d.n_layer = c.get_count({"num_hidden_layers", "n_layer", "num_layers"});
  d.n_embd = c.get_count({"hidden_size", "n_embd"});
  d.n_head = c.get_count({"num_attention_heads", "n_head"});
  d.n_head_kv = c.has("num_key_value_heads") ? c.get_count({"num_key_value_heads"}) : d.n_head;
  d.n_ff = c.get_count({"intermediate_size"});
  if (d.n_head % d.n_head_kv != 0)
    fail(ErrorCode::kInvalidFile, "{}: num_attention_heads {} is not a multiple of num_key_value_heads {}", c.source(),
         d.n_head, d.n_head_kv);
  // Granite ignores head_dim (as llama.cpp does); the others take it when given.
  if (c.has("head_dim") && rule.gguf_arch != "granite") {
    d.head_dim = c.get_count({"head_dim"});
    d.head_dim_explicit = true;
  } else if (rule.family == Family::kGemma3) {
    d.head_dim = 256;  // transformers' Gemma3TextConfig default
    d.head_dim_explicit = true;
  } else {
    if (d.n_embd % d.n_head != 0)
      fail(ErrorCode::kInvalidFile, "{}: hidden_size {} is not a multiple of num_attention_heads {} and no head_dim is given",
           c.source(), d.n_embd, d.n_head);
    d.head_dim = d.n_embd / d.n_head;
  }
  if (rule.moe) {
    d.n_expert = c.get_count({"num_local_experts", "num_experts"});
    d.n_expert_used = c.get_count({"num_experts_per_tok"});
    d.n_ff_expert = c.has("moe_intermediate_size") ? c.get_count({"moe_intermediate_size"}) : d.n_ff;
    if (d.n_expert_used > d.n_expert)
      fail(ErrorCode::kInvalidFile, "{}: num_experts_per_tok {} is more than the {} experts", c.source(), d.n_expert_used,
           d.n_expert);
  }
  // The vocabulary is the embedding table's row count.
  const SafetensorsTensor* embd = nullptr;
  bool has_lm_head = false;
  for (const SafetensorsTensor* t : ckpt.tensors()) {
    if (ends_with(t->name, "embed_tokens.weight") && t->name.find("vision") == std::string::npos) embd = t;
    if (t->name == "lm_head.weight" || t->name == "language_model.lm_head.weight") has_lm_head = true;
  }
  if (!embd) fail(ErrorCode::kNotFound, "{}: no embedding table (model.embed_tokens.weight) in the checkpoint", ckpt.dir());
  if (embd->shape.size() != 2 || embd->shape[1] != d.n_embd)
    fail(ErrorCode::kInvalidFile, "{}: tensor '{}' has shape {}, expected [n_vocab, {}]", ckpt.dir(), embd->name,
         format_st_shape(embd->shape), d.n_embd);
  d.n_vocab = embd->shape[0];
  d.tied_embeddings = !has_lm_head || rule.family == Family::kGemma2 || rule.family == Family::kGemma3;
  return d;
}

ConvertPlan plan_conversion(const HfCheckpoint& ckpt) {
  const std::string hf_arch = ckpt.config().architecture();
  const ArchRule* rule = find_arch_rule(hf_arch);
  if (!rule)
    fail(ErrorCode::kUnsupported, "{}: unsupported architecture '{}' (convert knows {})", ckpt.dir(), hf_arch,
         supported_hf_architectures());
  ConvertPlan plan;
  plan.hf_arch = hf_arch;
  plan.arch = std::string(rule->gguf_arch);
  const ModelDims dims = read_dims(*rule, ckpt);
  plan.n_vocab = dims.n_vocab;
  plan_metadata(*rule, ckpt, dims, plan);  // may change plan.arch (mistral)
  plan_tensors(*rule, ckpt, dims, plan);

  plan.shape.arch = plan.arch;
  plan.shape.n_layer = static_cast<int>(dims.n_layer);
  plan.shape.n_head = static_cast<int>(dims.n_head);
  plan.shape.n_head_kv = static_cast<int>(dims.n_head_kv);
  plan.shape.n_expert = static_cast<int>(dims.n_expert);
  plan.shape.is_70b = plan.arch == "llama" && dims.n_layer == 80 && dims.n_head != dims.n_head_kv;

  // Write in llama.cpp's quantization order: whole-model tensors, then block by block.
  std::vector<quant::TensorDesc> descs;
  for (const auto& t : plan.tensors) descs.push_back({t.name, t.shape, GgmlType::F32});
  const auto order = quant::quantization_order(descs);
  std::vector<OutputTensor> sorted;
  sorted.reserve(plan.tensors.size());
  for (size_t i : order) sorted.push_back(std::move(plan.tensors[i]));
  plan.tensors = std::move(sorted);
  return plan;
}

}  // namespace quarrel::convert
