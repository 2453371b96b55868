#pragma once
// The fast CPU forward pass against the float64 reference forward (tests/common) on one model
// file: the reference runs greedily from a kPromptLen-token prompt for kSteps steps (recording
// its logits), then the same tokens go through the CPU backend and the logits are compared at
// every position:
//   error = max_i |fast_i - ref_i| / max_i |ref_i|   (over the vocabulary, worst position)
// for the prompt as one batch, for each decode token alone, and for each decode token batched
// with another sequence's prompt tokens; optionally the backend's own greedy picks too.
#include <string>

#include "core/ggml_type.h"

namespace quarrel::test {

inline constexpr int kPromptLen = 20;
inline constexpr int kSteps = 32;

struct Outcome {
  double prompt_error = 0;   // worst prompt token of max|fast - ref| / max|ref|
  double decode_error = 0;   // the same over the decode steps, decoded alone
  double mixed_decode_error = 0;  // decoded in a batch with another sequence's prompt tokens
  int greedy_mismatch = -1;  // first step where the backend's own greedy pick differs; -1: none
};

Outcome compare(const std::string& path, GgmlType kv_type, bool check_greedy, int n_threads = 1);

}  // namespace quarrel::test
