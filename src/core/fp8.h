#pragma once
// Scalar FP8 E4M3 (OCP "E4M3FN", the type of vLLM's fp8 KV cache and of CUDA's __nv_fp8_e4m3):
// 1 sign bit, 4 exponent bits (bias 7), 3 mantissa bits; no infinities, S.1111.111 is NaN, the
// largest finite magnitude is 448 (S.1111.110), the smallest subnormal 2^-9.
//
// The host reference of the CUDA KV cache's conversions: float -> E4M3 rounds to nearest even
// and saturates to +-448 (infinities too), as __nv_cvt_float_to_fp8(v, __NV_SATFINITE,
// __NV_E4M3); NaN stays NaN. E4M3 -> float is exact.
#include <cmath>
#include <cstdint>

namespace quarrel {

constexpr float kE4M3Max = 448.0f;

// E4M3 -> float32, exact for every byte (0x7F / 0xFF: NaN).
inline float e4m3_to_f32(uint8_t b) {
  const int e = (b >> 3) & 0xF, m = b & 7;
  if (e == 15 && m == 7) return std::nanf("");
  const float mag = e == 0 ? std::ldexp(static_cast<float>(m), -9) : std::ldexp(1.0f + static_cast<float>(m) / 8.0f, e - 7);
  return (b & 0x80) ? -mag : mag;
}

// float32 -> E4M3, round to nearest even, saturating to +-448; NaN -> 0x7F (sign kept).
inline uint8_t f32_to_e4m3(float f) {
  const uint8_t sign = std::signbit(f) ? 0x80 : 0x00;
  if (std::isnan(f)) return static_cast<uint8_t>(sign | 0x7F);
  const float a = std::fabs(f);
  if (a >= kE4M3Max) return static_cast<uint8_t>(sign | 0x7E);
  // The quantum of a's binade: 2^(E - 3) for a in [2^E, 2^(E+1)), E >= -6 (subnormals: 2^-9).
  int e2 = 0;
  std::frexp(a, &e2);  // a in [2^(e2-1), 2^e2)
  const int binade = e2 - 1 < -6 ? -6 : e2 - 1;
  const float quantum = std::ldexp(1.0f, binade - 3);
  // a / quantum is exact (a power of two apart, no underflow); nearbyint rounds half to even.
  const float units = std::nearbyint(a / quantum);  // <= 16: a carry into the next binade
  if (units == 0.0f) return sign;
  const float r = units * quantum;
  if (r < std::ldexp(1.0f, -6)) return static_cast<uint8_t>(sign | static_cast<uint8_t>(units));  // subnormal
  std::frexp(r, &e2);
  const int exp_field = e2 - 1 + 7;
  const int mant = static_cast<int>(std::ldexp(r, -(e2 - 1)) * 8.0f) - 8;
  return static_cast<uint8_t>(sign | (exp_field << 3) | mant);
}

}  // namespace quarrel
