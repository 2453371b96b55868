// The non-linear 4-bit row quantizers IQ4_NL and IQ4_XS (ggml's quantize_iq4_nl_impl with
// ntry = 7, no importance matrix), in two steps. First each block of 32 gets a scale for the
// non-linear table: the max-magnitude scale and 15 nearby ones are tried, keeping the best fit
// weighted by x^2 (iq4_block_scales: in lanes, or one block at a time for scalar_search.h).
// Then (iq4_finish) with more than one block per super-block (IQ4_XS) the block scales are
// quantized to 6 bits relative to the super-block scale, and every element is assigned its
// level with its final scale.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/quant.h"
#include "quant/quantize_internal.h"
#include "quant/scalar_search.h"

namespace quarrel::quant {
using namespace detail;
namespace {

void iq4_finish(int super_block_size, const float* x, const float* scales, uint16_t* dh, uint8_t* q4,
                uint16_t* scales_h, uint8_t* scales_l) {
  constexpr int block_size = 32;
  const int8_t* values = kIq4nlValues;
  uint8_t L[QK_K];
  if (super_block_size / block_size > 1) {
    const int nb = super_block_size / block_size;
    float amax_scale;
    const float max_scale = max_by_magnitude(nb, scales, &amax_scale);
    std::memset(scales_h, 0, static_cast<size_t>((nb + 7) / 8) * sizeof(uint16_t));
    const float d = -max_scale / 32;
    *dh = f32_to_fp16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = max_of(-32, min_of(31, l));
      const float dl = d * static_cast<float>(l);
      const float idl = dl ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * block_size;
      const float* xb = x + ib * block_size;
      for (int j = 0; j < block_size; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xF);
      const uint8_t l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] = static_cast<uint8_t>(scales_l[ib / 2] | (l_l << 4));
      scales_h[ib / 8] = static_cast<uint16_t>(scales_h[ib / 8] | (l_h << 2 * (ib % 8)));
    }
  } else {
    *dh = f32_to_fp16(scales[0]);
    const float id = scales[0] ? 1 / scales[0] : 0;
    for (int j = 0; j < super_block_size; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
  }
  for (int i = 0; i < super_block_size / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

template <Search kSearch>
void quantize_iq4_nl_impl(const float* x, BlockIQ4_NL* y, int64_t n) {
  const int64_t nb = n / QK4_NL;
  constexpr int64_t kChunk = 64;  // blocks whose scales are searched together
  float scales[kChunk];
  uint16_t unused_h;
  for (int64_t b0 = 0; b0 < nb; b0 += kChunk) {
    const int m = static_cast<int>(std::min(kChunk, nb - b0));
    iq4_block_scales(kSearch, m, x + QK4_NL * b0, scales);
    for (int i = 0; i < m; ++i) {
      BlockIQ4_NL& blk = y[b0 + i];
      iq4_finish(QK4_NL, x + QK4_NL * (b0 + i), &scales[i], &blk.d, blk.qs, &unused_h, nullptr);
    }
  }
}

template <Search kSearch>
void quantize_iq4_xs_impl(const float* x, BlockIQ4_XS* y, int64_t n) {
  const int64_t nb = n / QK_K;
  float scales[QK_K / 32];
  for (int64_t ib = 0; ib < nb; ++ib) {
    iq4_block_scales(kSearch, QK_K / 32, x + QK_K * ib, scales);
    iq4_finish(QK_K, x + QK_K * ib, scales, &y[ib].d, y[ib].qs, &y[ib].scales_h, y[ib].scales_l);
  }
}

}  // namespace

void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n) { quantize_iq4_nl_impl<Search::kLanes>(x, y, n); }
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n) { quantize_iq4_xs_impl<Search::kLanes>(x, y, n); }
namespace scalar_search {
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n) { quantize_iq4_nl_impl<Search::kScalar>(x, y, n); }
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n) { quantize_iq4_xs_impl<Search::kScalar>(x, y, n); }
}  // namespace scalar_search

}  // namespace quarrel::quant
