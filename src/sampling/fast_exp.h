#pragma once
// exp(x) for x <= 0, in plain float arithmetic the compiler vectorizes (no libm call), and the
// same bits on every platform: range reduction to r in [-ln2/2, ln2/2], Cephes' degree-6
// polynomial for exp(r) (about 1 ulp), and 2^n put together from its bits. Arguments below
// -87 (where exp underflows float's normal range) and -infinity give exactly 0, so a banned
// token's weight is 0.
#include <bit>
#include <cstdint>

namespace quarrel::sampling {

inline float exp_nonpositive(float x) {
  // Branch-free and without float comparisons (GCC keeps those scalar under the default
  // -ftrapping-math), so loops over it vectorize. For x <= 0 the bit pattern grows with |x|, so
  // x >= -87 is bits <= bits(-87) (false for -infinity). Callers pass x <= 0 only (a logit
  // minus the maximum); small positive x would still work, large ones would not.
  constexpr uint32_t kMinus87 = 0xc2ae0000u;  // -87.0f
  uint32_t b = std::bit_cast<uint32_t>(x);
  const uint32_t keep = 0u - static_cast<uint32_t>(b <= kMinus87);
  b = (b & keep) | (kMinus87 & ~keep);
  x = std::bit_cast<float>(b);
  // n = round(x / ln2) by the 1.5 * 2^23 trick (exact for |x / ln2| < 2^22); the integer n is
  // the low bits of t.
  constexpr float kShifter = 12582912.0f;
  const float t = x * 1.44269504088896341f + kShifter;
  const int32_t n = static_cast<int32_t>(std::bit_cast<uint32_t>(t) - std::bit_cast<uint32_t>(kShifter));
  const float nf = t - kShifter;
  // r = x - n ln2, with ln2 split in two so n * hi is exact.
  const float r = (x - nf * 0.693359375f) - nf * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  const float scale = std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);  // n in [-126, 0]
  return std::bit_cast<float>(std::bit_cast<uint32_t>(p * scale) & keep);
}

}  // namespace quarrel::sampling
