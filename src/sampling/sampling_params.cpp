#include "sampling/sampling_params.h"

#include <cmath>

#include "core/error.h"

namespace quarrel::sampling {
namespace {

void finite(float v, const char* name) {
  if (!std::isfinite(v)) fail(ErrorCode::kInvalidArgument, "sampling: {} must be a finite number", name);
}

}  // namespace

void validate(const SamplingParams& p, int32_t n_vocab) {
  finite(p.temperature, "temperature");
  finite(p.top_p, "top_p");
  finite(p.min_p, "min_p");
  finite(p.typical_p, "typical_p");
  finite(p.repeat_penalty, "repeat_penalty");
  finite(p.frequency_penalty, "frequency_penalty");
  finite(p.presence_penalty, "presence_penalty");
  if (p.top_p < 0) fail(ErrorCode::kInvalidArgument, "sampling: top_p {} is negative", p.top_p);
  if (p.min_p < 0) fail(ErrorCode::kInvalidArgument, "sampling: min_p {} is negative", p.min_p);
  if (p.typical_p < 0) fail(ErrorCode::kInvalidArgument, "sampling: typical_p {} is negative", p.typical_p);
  if (p.repeat_penalty <= 0)
    fail(ErrorCode::kInvalidArgument, "sampling: repeat_penalty {} must be positive (1 is off)", p.repeat_penalty);
  if (p.repeat_last_n < -1)
    fail(ErrorCode::kInvalidArgument, "sampling: repeat_last_n {} must be -1, 0 or positive", p.repeat_last_n);
  if (p.min_keep < 0) fail(ErrorCode::kInvalidArgument, "sampling: min_keep {} is negative", p.min_keep);
  if (p.top_logprobs < 0)
    fail(ErrorCode::kInvalidArgument, "sampling: top_logprobs {} is negative", p.top_logprobs);
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= n_vocab)
      fail(ErrorCode::kInvalidArgument, "sampling: logit_bias token {} is outside the vocabulary [0, {})", id, n_vocab);
    if (std::isnan(bias) || bias == INFINITY)
      fail(ErrorCode::kInvalidArgument, "sampling: logit_bias for token {} must be a number or -infinity", id);
  }
}

}  // namespace quarrel::sampling
