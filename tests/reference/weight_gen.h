#pragma once
// The reference harness's weight generator: every weight is a pure function of (tensor name,
// element index), so a checkpoint of any size is reproduced from a short list of tensor names,
// shapes, scales and offsets instead of being stored. make_reference.py implements the same
// function with numpy (uint64 arithmetic); the two must agree bit for bit.
//
//   u     = splitmix64(fnv1a64(name) + salt * 0x9E3779B97F4A7C15 + index)   (mod 2^64)
//   x     = (u >> 11) * 2^-53 * 2 - 1                                       in [-1, 1), exact in float64
//   value = float32(offset + scale * x)                                      computed in float64
//
// `index` is the element's flat index in the tensor's row-major (PyTorch) layout.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace quarrel::test::refweights {

// FNV-1a, 64-bit, over the UTF-8 bytes of s.
uint64_t fnv1a64(std::string_view s);
// splitmix64's output for the state x (x + golden gamma, then the two multiply-xorshift rounds).
uint64_t splitmix64(uint64_t x);
// The uniform [-1, 1) number of (name, index).
double uniform(std::string_view name, uint64_t index, uint64_t salt = 0);
float value(std::string_view name, uint64_t index, double scale, double offset, uint64_t salt = 0);
// Elements [first, first + n) into dst.
void fill(std::string_view name, double scale, double offset, uint64_t salt, uint64_t first, uint64_t n, float* dst);

struct TensorSpec {
  std::string name;            // the checkpoint's name ("model.layers.0.self_attn.q_proj.weight")
  std::vector<int64_t> shape;  // PyTorch order
  double scale = 0.1;
  double offset = 0.0;
};

}  // namespace quarrel::test::refweights
