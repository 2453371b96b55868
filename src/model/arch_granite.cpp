// granite (IBM Granite 3.x dense): the Llama block with four multipliers: embeddings times
// embedding_scale, attention scores times attention.scale (instead of 1 / sqrt(head_dim)),
// each block's output times residual_scale before the residual add, and the logits divided by
// logit_scale. Absent keys leave that step out.
#include "gguf/gguf_file.h"
#include "gguf/keys.h"
#include "model/arch.h"

namespace quarrel::model {
namespace {

void read_granite_hparams(const gguf::GgufFile& file, HParams& hp) {
  hp.embd_scale = read_positive_float(file, gguf::keys::kEmbeddingScale, 0.0f);
  hp.residual_scale = read_positive_float(file, gguf::keys::kResidualScale, 0.0f);
  hp.logit_scale = read_positive_float(file, gguf::keys::kLogitScale, 0.0f);
}

}  // namespace

const ArchSpec& granite_arch() {
  static const ArchSpec spec = {
      .name = "granite",
      .block = {.rope_style = RopeStyle::kNormal},
      .read_extra_hparams = read_granite_hparams,
      .weights = llama_family_weights,
  };
  return spec;
}

}  // namespace quarrel::model
