// Checkpoint tensor names -> GGUF tensor names (llama.cpp's gguf-py tensor_mapping.py for the
// architectures convert knows), with the re-orderings each architecture needs:
//   - Llama family: HF stores Q and K for rotate_half RoPE (the two halves of each head); ggml
//     rotates adjacent pairs, so rows h*d + t*d/2 + i move to h*d + 2i + t (weights and biases);
//   - Gemma: RMSNorm multiplies by (1 + w), so every *norm.weight is stored plus one;
//   - MoE: per-expert matrices (Mixtral's w1/w2/w3, Qwen's gate/up/down_proj) stacked into
//     ffn_{gate,up,down}_exps [.., .., n_expert]; transformers 5's fused experts.gate_up_proj
//     [n_expert, 2 * n_ff, n_embd] split into gate and up;
//   - Phi-3: qkv_proj and gate_up_proj kept fused (attn_qkv, ffn_up).
#include <map>
#include <optional>
#include <set>

#include "convert/convert_arch.h"
#include "core/error.h"

namespace quarrel::convert {
namespace {

using Shape = std::vector<int64_t>;  // PyTorch order

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

// The language model's name for a tensor, or nullopt for one convert leaves out (vision
// towers and projectors of multimodal checkpoints, RoPE caches).
std::optional<std::string> canonical_name(std::string name) {
  for (std::string_view skip : {"vision_tower.", "multi_modal_projector.", "vision_model.", "model.vision_tower.",
                                "model.multi_modal_projector.", "model.vision_model.", "audio_tower."})
    if (starts_with(name, skip)) return std::nullopt;
  if (ends_with(name, "rotary_emb.inv_freq")) return std::nullopt;
  if (starts_with(name, "model.language_model.")) name = "model." + name.substr(21);
  else if (starts_with(name, "language_model.model.")) name = "model." + name.substr(21);
  else if (starts_with(name, "language_model.lm_head.")) name = name.substr(15);
  return name;
}

enum ExpertKind { kGate = 0, kUp = 1, kDown = 2 };
constexpr const char* kExpsName[] = {"ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"};

class Mapper {
 public:
  Mapper(const ArchRule& rule, const HfCheckpoint& ckpt, const ModelDims& d, ConvertPlan& plan)
      : rule_(rule), ckpt_(ckpt), d_(d), plan_(plan) {}

  void run() {
    for (const SafetensorsTensor* t : ckpt_.tensors()) {
      const auto name = canonical_name(t->name);
      if (name) map_one(*name, *t);
    }
    stack_experts();
    check_complete();
  }

 private:
  [[noreturn]] void bad(const SafetensorsTensor& t, std::string_view why) const {
    fail(ErrorCode::kInvalidFile, "{}: tensor '{}' {}", ckpt_.dir(), t.name, why);
  }

  void expect(const SafetensorsTensor& t, const Shape& want) const {
    if (t.shape != want)
      bad(t, fmt::format("has shape {}, expected {} from config.json", format_st_shape(t.shape), format_st_shape(want)));
    if (!t.is_float()) fail(ErrorCode::kUnsupported, "{}: tensor '{}' has dtype {}; convert reads F32, F16 and BF16 tensors",
                            ckpt_.dir(), t.name, t.dtype_name);
  }

  static std::vector<uint64_t> reversed(const Shape& s) {
    std::vector<uint64_t> r;
    for (auto it = s.rbegin(); it != s.rend(); ++it) r.push_back(static_cast<uint64_t>(*it));
    if (r.empty()) r.push_back(1);
    return r;
  }

  bool gemma() const { return rule_.family == Family::kGemma2 || rule_.family == Family::kGemma3; }

  void add(std::string gguf, std::vector<const SafetensorsTensor*> srcs, std::vector<uint64_t> shape,
           std::function<SourceUnit(int64_t)> map = {}, int64_t unit = 0) {
    if (!names_.insert(gguf).second)
      fail(ErrorCode::kInvalidFile, "{}: two checkpoint tensors map to {} (the second is '{}')", ckpt_.dir(), gguf,
           srcs.front()->name);
    OutputTensor o;
    o.name = std::move(gguf);
    o.shape = std::move(shape);
    o.unit = unit > 0 ? unit : static_cast<int64_t>(o.shape[0]);
    o.sources = std::move(srcs);
    o.map = std::move(map);
    if (gemma() && ends_with(o.name, "norm.weight")) o.add = 1.0f;
    plan_.tensors.push_back(std::move(o));
  }

  // A tensor copied as it is (its GGUF shape is the reverse of its PyTorch shape).
  void plain(std::string gguf, const SafetensorsTensor& t, const Shape& want) {
    expect(t, want);
    add(std::move(gguf), {&t}, reversed(want));
  }

  // Q or K for ggml's adjacent-pair RoPE: rows of each head re-ordered (see the file comment).
  void permuted(std::string gguf, const SafetensorsTensor& t, const Shape& want, int64_t n_head) {
    expect(t, want);
    const int64_t rows = want[0];
    const int64_t hd = rows / n_head, half = hd / 2;
    if (rows % n_head != 0 || hd % 2 != 0)
      bad(t, fmt::format("has {} rows, which do not split into {} heads of even size", rows, n_head));
    auto map = [hd, half](int64_t u) {
      const int64_t h = u / hd, j = u % hd;
      return SourceUnit{0, h * hd + (j & 1) * half + (j >> 1)};
    };
    // A weight permutes whole rows; a bias permutes single values.
    const int64_t unit = want.size() == 2 ? want[1] : 1;
    add(std::move(gguf), {&t}, reversed(want), map, unit);
  }

  void map_one(const std::string& name, const SafetensorsTensor& t) {
    const int64_t e = d_.n_embd;
    if (name == "model.embed_tokens.weight") return plain("token_embd.weight", t, {d_.n_vocab, e});
    if (name == "model.norm.weight") return plain("output_norm.weight", t, {e});
    if (name == "lm_head.weight") {
      if (gemma()) return;  // tied; llama.cpp skips it
      return plain("output.weight", t, {d_.n_vocab, e});
    }
    constexpr std::string_view kLayers = "model.layers.";
    if (!starts_with(name, kLayers)) bad(t, fmt::format("cannot be mapped for {} (unknown name)", rule_.hf_arch));
    size_t i = kLayers.size();
    int64_t il = 0;
    const size_t digits_at = i;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i])) && il < (int64_t{1} << 31))
      il = il * 10 + (name[i++] - '0');
    if (i == digits_at || i >= name.size() || name[i] != '.') bad(t, "has no layer number after model.layers.");
    if (il >= d_.n_layer) bad(t, fmt::format("names layer {}, but config.json has {} layers", il, d_.n_layer));
    map_layer(static_cast<int>(il), std::string_view(name).substr(i + 1), t);
  }

  void map_layer(int il, std::string_view rest, const SafetensorsTensor& t) {
    const int64_t e = d_.n_embd, hd = d_.head_dim;
    const int64_t nq = d_.n_head * hd, nkv = d_.n_head_kv * hd;
    const bool llama = rule_.family == Family::kLlama;
    auto blk = [il](std::string_view s) { return fmt::format("blk.{}.{}", il, s); };

    if (rest == "input_layernorm.weight") return plain(blk("attn_norm.weight"), t, {e});
    if (rest == "self_attn.q_proj.weight")
      return llama ? permuted(blk("attn_q.weight"), t, {nq, e}, d_.n_head) : plain(blk("attn_q.weight"), t, {nq, e});
    if (rest == "self_attn.k_proj.weight")
      return llama ? permuted(blk("attn_k.weight"), t, {nkv, e}, d_.n_head_kv) : plain(blk("attn_k.weight"), t, {nkv, e});
    if (rest == "self_attn.v_proj.weight") return plain(blk("attn_v.weight"), t, {nkv, e});
    if (rest == "self_attn.o_proj.weight") return plain(blk("attn_output.weight"), t, {e, nq});
    if (rest == "self_attn.q_proj.bias")
      return llama ? permuted(blk("attn_q.bias"), t, {nq}, d_.n_head) : plain(blk("attn_q.bias"), t, {nq});
    if (rest == "self_attn.k_proj.bias")
      return llama ? permuted(blk("attn_k.bias"), t, {nkv}, d_.n_head_kv) : plain(blk("attn_k.bias"), t, {nkv});
    if (rest == "self_attn.v_proj.bias") return plain(blk("attn_v.bias"), t, {nkv});
    if (rest == "self_attn.o_proj.bias") return plain(blk("attn_output.bias"), t, {e});
    if (rest == "self_attn.qkv_proj.weight") return plain(blk("attn_qkv.weight"), t, {nq + 2 * nkv, e});
    if (rest == "self_attn.q_norm.weight") return plain(blk("attn_q_norm.weight"), t, {hd});
    if (rest == "self_attn.k_norm.weight") return plain(blk("attn_k_norm.weight"), t, {hd});
    if (rest == "post_attention_layernorm.weight")
      return plain(blk(gemma() ? "post_attention_norm.weight" : "ffn_norm.weight"), t, {e});
    if (gemma() && rest == "pre_feedforward_layernorm.weight") return plain(blk("ffn_norm.weight"), t, {e});
    if (gemma() && rest == "post_feedforward_layernorm.weight") return plain(blk("post_ffw_norm.weight"), t, {e});
    if (!rule_.moe) {
      if (rest == "mlp.gate_proj.weight") return plain(blk("ffn_gate.weight"), t, {d_.n_ff, e});
      if (rest == "mlp.up_proj.weight") return plain(blk("ffn_up.weight"), t, {d_.n_ff, e});
      if (rest == "mlp.down_proj.weight") return plain(blk("ffn_down.weight"), t, {e, d_.n_ff});
      if (rest == "mlp.gate_up_proj.weight" && rule_.family == Family::kPhi3)
        return plain(blk("ffn_up.weight"), t, {2 * d_.n_ff, e});
    } else if (map_moe(il, rest, t)) {
      return;
    }
    bad(t, fmt::format("cannot be mapped for {}", rule_.hf_arch));
  }

  // Mixture-of-experts tensors; false when `rest` is not one.
  bool map_moe(int il, std::string_view rest, const SafetensorsTensor& t) {
    const int64_t e = d_.n_embd, ff = d_.n_ff_expert, ne = d_.n_expert;
    auto blk = [il](std::string_view s) { return fmt::format("blk.{}.{}", il, s); };
    if (rest == "mlp.gate.weight" || rest == "block_sparse_moe.gate.weight") {
      plain(blk("ffn_gate_inp.weight"), t, {ne, e});
      return true;
    }
    std::string_view r = rest;
    if (starts_with(r, "mlp.experts.")) r.remove_prefix(12);
    else if (starts_with(r, "block_sparse_moe.experts.")) r.remove_prefix(25);
    else return false;
    if (ends_with(r, ".weight") && (r == "gate_up_proj.weight" || r == "down_proj.weight")) r.remove_suffix(7);
    // transformers 5: all experts in one tensor.
    if (r == "gate_up_proj") {
      expect(t, {ne, 2 * ff, e});
      for (int part = 0; part < 2; ++part) {
        auto map = [ff, part](int64_t u) {
          const int64_t x = u / ff, i = u % ff;  // expert x, row i of its gate (part 0) or up (part 1)
          return SourceUnit{0, x * 2 * ff + part * ff + i};
        };
        add(blk(kExpsName[part == 0 ? kGate : kUp]), {&t}, {static_cast<uint64_t>(e), static_cast<uint64_t>(ff),
                                                             static_cast<uint64_t>(ne)}, map, e);
      }
      return true;
    }
    if (r == "down_proj") {
      expect(t, {ne, e, ff});
      add(blk(kExpsName[kDown]), {&t}, reversed({ne, e, ff}));
      return true;
    }
    // One expert per tensor: "<x>.w1.weight" (Mixtral) or "<x>.gate_proj.weight" (Qwen).
    size_t i = 0;
    int64_t x = 0;
    while (i < r.size() && std::isdigit(static_cast<unsigned char>(r[i])) && x < (int64_t{1} << 31)) x = x * 10 + (r[i++] - '0');
    if (i == 0 || i >= r.size() || r[i] != '.') return false;
    const std::string_view w = r.substr(i + 1);
    int kind;
    if (w == "w1.weight" || w == "gate_proj.weight") kind = kGate;
    else if (w == "w3.weight" || w == "up_proj.weight") kind = kUp;
    else if (w == "w2.weight" || w == "down_proj.weight") kind = kDown;
    else return false;
    if (x >= ne) bad(t, fmt::format("names expert {}, but config.json has {} experts", x, ne));
    expect(t, kind == kDown ? Shape{e, ff} : Shape{ff, e});
    auto& slot = experts_[{il, kind}];
    slot.resize(static_cast<size_t>(ne), nullptr);
    if (slot[static_cast<size_t>(x)]) bad(t, "appears twice");
    slot[static_cast<size_t>(x)] = &t;
    return true;
  }

  void stack_experts() {
    for (auto& [key, srcs] : experts_) {
      const auto [il, kind] = key;
      for (size_t x = 0; x < srcs.size(); ++x)
        if (!srcs[x])
          fail(ErrorCode::kNotFound, "{}: layer {} has no tensor for expert {} of {}", ckpt_.dir(), il, x, kExpsName[kind]);
      const int64_t e = d_.n_embd, ff = d_.n_ff_expert, ne = d_.n_expert;
      const Shape one = kind == kDown ? Shape{e, ff} : Shape{ff, e};
      add(fmt::format("blk.{}.{}", il, kExpsName[kind]), srcs, reversed({ne, one[0], one[1]}));
    }
  }

  void check_complete() const {
    std::vector<std::string> need = {"token_embd.weight", "output_norm.weight"};
    if (!d_.tied_embeddings) need.push_back("output.weight");
    std::vector<std::string_view> layer;
    if (rule_.family == Family::kPhi3) {
      layer = {"attn_norm.weight", "attn_qkv.weight", "attn_output.weight", "ffn_norm.weight", "ffn_up.weight",
               "ffn_down.weight"};
    } else {
      layer = {"attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
               "ffn_norm.weight"};
      if (rule_.moe) {
        for (auto s : {"ffn_gate_inp.weight", "ffn_gate_exps.weight", "ffn_up_exps.weight", "ffn_down_exps.weight"})
          layer.push_back(s);
      } else {
        for (auto s : {"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}) layer.push_back(s);
      }
    }
    if (plan_.arch == "qwen2")
      for (auto s : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) layer.push_back(s);
    if (plan_.arch == "qwen3" || plan_.arch == "qwen3moe" || plan_.arch == "gemma3")
      for (auto s : {"attn_q_norm.weight", "attn_k_norm.weight"}) layer.push_back(s);
    if (gemma())
      for (auto s : {"post_attention_norm.weight", "post_ffw_norm.weight"}) layer.push_back(s);
    for (int64_t il = 0; il < d_.n_layer; ++il)
      for (auto s : layer) need.push_back(fmt::format("blk.{}.{}", il, s));
    for (const auto& n : need)
      if (!names_.count(n))
        fail(ErrorCode::kNotFound, "{}: the checkpoint has no tensor for {} ({} needs it)", ckpt_.dir(), n, rule_.hf_arch);
  }

  const ArchRule& rule_;
  const HfCheckpoint& ckpt_;
  const ModelDims& d_;
  ConvertPlan& plan_;
  std::set<std::string> names_;
  std::map<std::pair<int, int>, std::vector<const SafetensorsTensor*>> experts_;
};

}  // namespace

void plan_tensors(const ArchRule& rule, const HfCheckpoint& ckpt, const ModelDims& dims, ConvertPlan& plan) {
  Mapper(rule, ckpt, dims, plan).run();
}

}  // namespace quarrel::convert
