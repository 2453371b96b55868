#include "quant/mix.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <numeric>

#include "core/error.h"
#include "gguf/gguf_file.h"

namespace quarrel::quant {
namespace {

// llama_ftype numbers (general.file_type).
enum FileType : uint32_t {
  kF16 = 1, kQ4_0 = 2, kQ4_1 = 3, kQ8_0 = 7, kQ5_0 = 8, kQ5_1 = 9, kQ2_K = 10, kQ3_K_S = 11, kQ3_K_M = 12,
  kQ3_K_L = 13, kQ4_K_S = 14, kQ4_K_M = 15, kQ5_K_S = 16, kQ5_K_M = 17, kQ6_K = 18, kIQ4_NL = 25, kIQ4_XS = 30,
  kBF16 = 32,
};

constexpr std::array kMixes = {
    QuantMix{"Q4_0", kQ4_0, GgmlType::Q4_0, "4.34G @ 7B, legacy 4-bit"},
    QuantMix{"Q4_1", kQ4_1, GgmlType::Q4_1, "4.78G @ 7B, legacy 4-bit with min"},
    QuantMix{"Q5_0", kQ5_0, GgmlType::Q5_0, "5.21G @ 7B, legacy 5-bit"},
    QuantMix{"Q5_1", kQ5_1, GgmlType::Q5_1, "5.65G @ 7B, legacy 5-bit with min"},
    QuantMix{"IQ4_NL", kIQ4_NL, GgmlType::IQ4_NL, "4.50 bpw non-linear"},
    QuantMix{"IQ4_XS", kIQ4_XS, GgmlType::IQ4_XS, "4.25 bpw non-linear"},
    QuantMix{"Q2_K", kQ2_K, GgmlType::Q2_K, "2.96G @ 8B"},
    QuantMix{"Q3_K_S", kQ3_K_S, GgmlType::Q3_K, "3.41G @ 8B"},
    QuantMix{"Q3_K_M", kQ3_K_M, GgmlType::Q3_K, "3.74G @ 8B"},
    QuantMix{"Q3_K_L", kQ3_K_L, GgmlType::Q3_K, "4.03G @ 8B"},
    QuantMix{"Q4_K_S", kQ4_K_S, GgmlType::Q4_K, "4.37G @ 8B"},
    QuantMix{"Q4_K_M", kQ4_K_M, GgmlType::Q4_K, "4.58G @ 8B, the usual choice"},
    QuantMix{"Q5_K_S", kQ5_K_S, GgmlType::Q5_K, "5.21G @ 8B"},
    QuantMix{"Q5_K_M", kQ5_K_M, GgmlType::Q5_K, "5.33G @ 8B"},
    QuantMix{"Q6_K", kQ6_K, GgmlType::Q6_K, "6.14G @ 8B"},
    QuantMix{"Q8_0", kQ8_0, GgmlType::Q8_0, "7.96G @ 8B"},
    QuantMix{"F16", kF16, GgmlType::F16, "14.00G @ 7B"},
    QuantMix{"BF16", kBF16, GgmlType::BF16, "14.00G @ 7B"},
};

bool is_quantized(GgmlType t) { return traits(t).block_size > 1; }

bool contains(std::string_view s, std::string_view part) { return s.find(part) != std::string_view::npos; }
bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// ggml_n_dims: dimensions up to the last one larger than 1.
int n_dims(const std::vector<uint64_t>& shape) {
  int n = 1;
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] > 1) n = static_cast<int>(i) + 1;
  return n;
}

// "blk.12.attn_q.weight" -> 12; -1 for tensors outside the blocks.
int layer_of(std::string_view name) {
  int layer = -1;
  if (name.substr(0, 4) == "blk.") {
    size_t i = 4;
    int v = 0;
    bool any = false;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && v < 100000000) {
      v = v * 10 + (name[i] - '0');
      any = true;
      ++i;
    }
    if (any && i < name.size() && name[i] == '.') layer = v;
  }
  return layer;
}

enum class Category {
  kTokenEmbd, kAttnQ, kAttnV, kAttnK, kAttnQkv, kAttnKvB, kAttnOutput, kFfnUp, kFfnGate, kFfnDown, kOutput, kOther
};

Category category_of(std::string_view name) {
  if (name == "output.weight") return Category::kOutput;
  if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::kTokenEmbd;
  if (contains(name, "attn_qkv.weight")) return Category::kAttnQkv;
  if (contains(name, "attn_kv_b.weight")) return Category::kAttnKvB;
  if (contains(name, "attn_v.weight")) return Category::kAttnV;
  if (contains(name, "attn_k.weight")) return Category::kAttnK;
  if (contains(name, "attn_q.weight")) return Category::kAttnQ;
  if (contains(name, "attn_output.weight")) return Category::kAttnOutput;
  if (contains(name, "ffn_up")) return Category::kFfnUp;
  if (contains(name, "ffn_gate")) return Category::kFfnGate;
  if (contains(name, "ffn_down")) return Category::kFfnDown;
  return Category::kOther;
}

bool is_attn_v_like(Category c) { return c == Category::kAttnV || c == Category::kAttnQkv || c == Category::kAttnKvB; }

// The second and last layers' worth of tensors get more bits in the *_M mixes.
bool use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

struct State {
  int n_attention_wv = 0;
  int i_attention_wv = 0;
  int n_ffn_down = 0;
  int i_ffn_down = 0;
  bool has_tied_embeddings = true;
};

// The layer of a per-layer tensor: its position among its kind, or (with experts, whose
// tensors are not in layer order) the number in its name.
int layer_index(int counter, const ModelShape& m, std::string_view name) {
  if (std::max(1, m.n_expert) > 1) {
    const int l = layer_of(name);
    if (l < 0 || l >= m.n_layer)
      fail(ErrorCode::kInvalidFile, "cannot tell the layer of tensor '{}' (the model has {} layers)", name, m.n_layer);
    return l;
  }
  return counter;
}

// llama_tensor_get_type_impl for the mixes above.
GgmlType choose_quantized(State& qs, const QuantMix& mix, const ModelShape& m, const TensorDesc& t, Category cat) {
  const uint32_t ft = mix.file_type;
  GgmlType new_type = mix.base;
  const bool falcon = m.arch == "falcon";
  if (cat == Category::kOutput || (qs.has_tied_embeddings && cat == Category::kTokenEmbd)) {
    const uint64_t nx = t.shape[0];
    if (falcon || nx % traits(new_type).block_size != 0) new_type = GgmlType::Q8_0;
    else if (new_type != GgmlType::Q8_0) new_type = GgmlType::Q6_K;
  } else if (cat == Category::kTokenEmbd) {
    // the base type
  } else if (is_attn_v_like(cat)) {
    if (ft == kQ2_K) new_type = m.n_gqa() >= 4 ? GgmlType::Q4_K : GgmlType::Q3_K;
    else if (ft == kQ3_K_M) new_type = qs.i_attention_wv < 2 ? GgmlType::Q5_K : GgmlType::Q4_K;
    else if (ft == kQ3_K_L) new_type = GgmlType::Q5_K;
    else if ((ft == kIQ4_NL || ft == kIQ4_XS) && m.n_gqa() >= 4) new_type = GgmlType::Q5_K;
    else if ((ft == kQ4_K_M || ft == kQ5_K_M) && use_more_bits(qs.i_attention_wv, qs.n_attention_wv))
      new_type = GgmlType::Q6_K;
    else if (ft == kQ4_K_S && qs.i_attention_wv < 4) new_type = GgmlType::Q5_K;
    // In 70B models 8 heads share each attn_v, which is therefore 8x smaller than attn_q:
    // more bits there cost little.
    if (m.is_70b && (new_type == GgmlType::Q3_K || new_type == GgmlType::Q4_K)) new_type = GgmlType::Q5_K;
    if (m.n_expert == 8) new_type = GgmlType::Q8_0;
    ++qs.i_attention_wv;
  } else if (cat == Category::kAttnK) {
    if (m.n_expert == 8) new_type = GgmlType::Q8_0;
  } else if (cat == Category::kFfnDown) {
    const int i_layer = layer_index(qs.i_ffn_down, m, t.name);
    const int n_layer = qs.n_ffn_down;
    if (ft == kQ2_K) {
      new_type = GgmlType::Q3_K;
    } else if (ft == kQ3_K_M) {
      new_type = i_layer < n_layer / 16                         ? GgmlType::Q5_K
                 : !falcon || use_more_bits(i_layer, n_layer) ? GgmlType::Q4_K
                                                                : GgmlType::Q3_K;
    } else if (ft == kQ3_K_L) {
      new_type = falcon ? GgmlType::Q4_K : GgmlType::Q5_K;
    } else if (ft == kQ4_K_M) {
      if (falcon)
        new_type = i_layer < n_layer / 16 ? GgmlType::Q6_K
                   : use_more_bits(i_layer, n_layer) ? GgmlType::Q5_K
                                                     : GgmlType::Q4_K;
      else if (use_more_bits(i_layer, n_layer))
        new_type = GgmlType::Q6_K;
    } else if (i_layer < n_layer / 8 && (ft == kIQ4_NL || ft == kIQ4_XS)) {
      new_type = GgmlType::Q5_K;
    } else if (ft == kQ5_K_M && use_more_bits(i_layer, n_layer)) {
      new_type = GgmlType::Q6_K;
    } else if (ft == kQ4_K_S && !falcon && i_layer < n_layer / 8) {
      new_type = GgmlType::Q5_K;
    }
    ++qs.i_ffn_down;
  } else if (cat == Category::kAttnOutput) {
    if (!falcon) {
      if (m.n_expert == 8) {
        if (ft == kQ2_K || ft == kQ3_K_S || ft == kQ3_K_M || ft == kIQ4_NL || ft == kQ4_K_S || ft == kQ4_K_M ||
            ft == kIQ4_XS)
          new_type = GgmlType::Q5_K;
      } else {
        if (ft == kQ2_K) new_type = GgmlType::Q3_K;
        else if (ft == kQ3_K_M) new_type = GgmlType::Q4_K;
        else if (ft == kQ3_K_L) new_type = GgmlType::Q5_K;
      }
    } else if (ft == kQ3_K_L) {
      new_type = GgmlType::Q4_K;
    }
  }
  return new_type;
}

// A type whose block does not divide the row length falls back to one with 32-element
// blocks, and to F16 when even that does not fit.
TypeChoice fallback(const TensorDesc& t, GgmlType type) {
  const uint64_t ncols = t.shape[0];
  if (ncols % traits(type).block_size == 0) return {type, false};
  GgmlType r;
  switch (type) {
    case GgmlType::IQ4_XS: r = GgmlType::IQ4_NL; break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: r = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: r = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: r = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: r = GgmlType::Q8_0; break;
    default: r = GgmlType::F16; break;  // (llama.cpp gives up here)
  }
  if (ncols % traits(r).block_size != 0) r = GgmlType::F16;
  return {r, true};
}

int first_int(const gguf::GgufFile& f, const std::string& key, int def) {
  const auto* v = f.find(key);
  if (!v) return def;
  if (v->is_array()) {
    const auto a = v->as_int_array();
    return a.empty() ? def : static_cast<int>(a[0]);
  }
  return static_cast<int>(v->as_int());
}

}  // namespace

std::span<const QuantMix> quant_mixes() { return kMixes; }

const QuantMix* find_mix(std::string_view name) {
  std::string upper(name);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& m : kMixes)
    if (m.name == upper) return &m;
  return nullptr;
}

std::string mix_names() {
  std::string s;
  for (const auto& m : kMixes) {
    if (!s.empty()) s += ", ";
    s += m.name;
  }
  return s;
}

ModelShape ModelShape::from_gguf(const gguf::GgufFile& f) {
  ModelShape m;
  m.arch = f.get_string_or("general.architecture", "");
  if (m.arch.empty()) return m;
  m.n_layer = first_int(f, m.arch + ".block_count", 0);
  m.n_head = first_int(f, m.arch + ".attention.head_count", 0);
  m.n_head_kv = first_int(f, m.arch + ".attention.head_count_kv", m.n_head);
  m.n_expert = first_int(f, m.arch + ".expert_count", 0);
  m.is_70b = m.arch == "llama" && m.n_layer == 80 && m.n_head != m.n_head_kv;
  return m;
}

std::vector<size_t> quantization_order(std::span<const TensorDesc> tensors) {
  std::vector<size_t> idx(tensors.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    const int la = layer_of(tensors[a].name), lb = layer_of(tensors[b].name);
    if (la != lb) return la < lb;
    return tensors[a].name < tensors[b].name;
  });
  return idx;
}

bool tensor_allows_quantization(const TensorDesc& t) {
  if (n_dims(t.shape) < 2) return false;
  const std::string_view name = t.name;
  if (!ends_with(name, "weight")) return false;
  static constexpr std::string_view kKeep[] = {
      "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
      "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
      "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
      "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight",
      "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight",
      "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd",
      "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
      "mm.a.code_embd"};
  for (auto k : kKeep)
    if (contains(name, k)) return false;
  if (name == "position_embd.weight" || name == "token_types.weight") return false;
  return true;
}

std::vector<TypeChoice> choose_types(const QuantMix& mix, const ModelShape& model, std::span<const TensorDesc> tensors) {
  State qs;
  for (const auto& t : tensors) {
    const auto cat = category_of(t.name);
    if (is_attn_v_like(cat)) ++qs.n_attention_wv;
    if (cat == Category::kOutput) qs.has_tied_embeddings = false;
  }
  qs.n_ffn_down = model.n_layer;
  if (qs.n_ffn_down <= 0)  // no block_count: count the layers' ffn_down tensors instead
    for (const auto& t : tensors) qs.n_ffn_down += category_of(t.name) == Category::kFfnDown;
  std::vector<TypeChoice> out;
  out.reserve(tensors.size());
  for (const auto& t : tensors) {
    if (!tensor_allows_quantization(t)) {
      out.push_back({t.type, false});
      continue;
    }
    if (!is_quantized(mix.base)) {
      out.push_back({mix.base, false});
      continue;
    }
    const GgmlType chosen = choose_quantized(qs, mix, model, t, category_of(t.name));
    out.push_back(fallback(t, chosen));
  }
  return out;
}

}  // namespace quarrel::quant
