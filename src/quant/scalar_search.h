#pragma once
// The k-quant and IQ4 quantizers with their group searches run one group after another,
// exactly as the reference implementation's code reads. quant.h's quantize_row_q2_K / q4_K /
// q5_K / q6_K / iq4_nl / iq4_xs run the same searches for several groups at once in vector
// lanes; the tests check that both give the same bytes.
#include <cstdint>

#include "quant/blocks.h"

namespace quarrel::quant::scalar_search {

// The lanes the vector searches use: 8 with AVX2 (unless QUARREL_CPU=scalar), else 4. Tests
// set 4 or 8 (8 only where the CPU has AVX2) or 0 (back to the automatic choice); returns the
// previous width.
int set_lane_width(int width);
int lane_width();

void quantize_row_q2_K(const float* x, BlockQ2_K* y, int64_t n);
void quantize_row_q4_K(const float* x, BlockQ4_K* y, int64_t n);
void quantize_row_q5_K(const float* x, BlockQ5_K* y, int64_t n);
void quantize_row_q6_K(const float* x, BlockQ6_K* y, int64_t n);
void quantize_row_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t n);
void quantize_row_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t n);

}  // namespace quarrel::quant::scalar_search
