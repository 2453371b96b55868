#pragma once
// Quantization mixes ("file types"): Q4_K_M and friends. A mix names a base tensor type and
// the customary per-tensor exceptions of llama.cpp's quantize tool (without an importance
// matrix): output.weight in Q6_K, attn_v / ffn_down bumped by layer position in the *_M mixes,
// 1-D tensors and norms left as they are, a fallback type when a row is not a multiple of the
// block size. Given the same model, choose_types() picks the types llama.cpp picks.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/ggml_type.h"

namespace quarrel::gguf {
class GgufFile;
}

namespace quarrel::quant {

struct QuantMix {
  std::string_view name;  // "Q4_K_M", as llama.cpp spells it
  uint32_t file_type;     // general.file_type (llama_ftype)
  GgmlType base;          // the type most tensors get
  std::string_view summary;
};

// Every mix `quarrel quantize` knows, in llama-quantize's order.
std::span<const QuantMix> quant_mixes();
// Case-insensitive lookup ("q4_k_m" works); nullptr when unknown.
const QuantMix* find_mix(std::string_view name);
// "Q4_0, Q4_1, ..." for error messages and --help.
std::string mix_names();

// What the type choice needs to know about the model (from its metadata).
struct ModelShape {
  std::string arch;    // general.architecture
  int n_layer = 0;     // <arch>.block_count
  int n_head = 0;      // <arch>.attention.head_count (first layer when per-layer)
  int n_head_kv = 0;   // <arch>.attention.head_count_kv (n_head when absent)
  int n_expert = 0;    // <arch>.expert_count
  bool is_70b = false; // llama with 80 layers and grouped-query attention

  int n_gqa() const { return n_head_kv > 0 ? n_head / n_head_kv : 0; }
  static ModelShape from_gguf(const gguf::GgufFile& f);
};

struct TensorDesc {
  std::string name;
  std::vector<uint64_t> shape;  // ne0 first
  GgmlType type;                // its type in the input
};

// The order llama.cpp quantizes (and writes) tensors in: tensors outside the blocks first,
// then block by block (blk.N.), by name within each group. Returns indices into `tensors`.
std::vector<size_t> quantization_order(std::span<const TensorDesc> tensors);

// Whether a tensor is quantized at all (2-D or more, a *weight that is not a norm, not one of
// the small special tensors llama.cpp keeps as they are).
bool tensor_allows_quantization(const TensorDesc& t);

struct TypeChoice {
  GgmlType type;
  bool fallback = false;  // the row length did not fit the chosen type's block
};

// The output type of every tensor, for `tensors` given in quantization_order(). Tensors that
// are not quantized keep their type.
std::vector<TypeChoice> choose_types(const QuantMix& mix, const ModelShape& model, std::span<const TensorDesc> tensors);

}  // namespace quarrel::quant
