#pragma once
// A float64 forward pass with Hugging Face semantics (rotate_half RoPE on the checkpoint's
// own Q/K layout, transformers' llama3 inv_freq), reading the weights of a tiny checkpoint
// straight from the generator: an oracle for "the converted GGUF computes what the checkpoint
// computes", independent of convert and of the GGUF loader. Llama family only: llama (with
// llama3 RoPE), mistral (sliding window), qwen2 (Q/K/V bias), qwen3 (Q/K norm).
#include <string>
#include <vector>

#include "reference/tiny_checkpoint.h"

namespace quarrel::test {

// Logits [n_vocab] after each token of `tokens`.
std::vector<std::vector<double>> hf_reference_logits(const TinyCheckpoint& c, const std::string& family,
                                                     const std::vector<int32_t>& tokens);

}  // namespace quarrel::test
