#include "convert/convert_plan.h"

#include <cstring>

#include "core/error.h"

namespace quarrel::convert {

uint64_t OutputTensor::n_elements() const {
  uint64_t n = 1;
  for (uint64_t d : shape) n *= d;
  return n;
}

void OutputTensor::read(int64_t first, int64_t n, float* dst) const {
  QUARREL_ASSERT(first >= 0 && n >= 0 && static_cast<uint64_t>(first + n) <= n_elements());
  if (sources.empty()) {
    QUARREL_ASSERT(values.size() == n_elements());
    std::memcpy(dst, values.data() + first, static_cast<size_t>(n) * sizeof(float));
  } else if (map) {
    QUARREL_ASSERT(unit > 0 && first % unit == 0 && n % unit == 0);
    for (int64_t u = first / unit, end = (first + n) / unit; u < end; ++u, dst += unit) {
      const SourceUnit s = map(u);
      QUARREL_ASSERT(s.source < sources.size());
      read_as_f32(*sources[s.source], s.unit * unit, unit, dst);
    }
  } else {
    // The sources back to back: copy the runs each one covers.
    int64_t base = 0;  // first element of the current source
    for (const SafetensorsTensor* s : sources) {
      const int64_t ns = s->n_elements();
      const int64_t lo = std::max(first, base), hi = std::min(first + n, base + ns);
      if (lo < hi) read_as_f32(*s, lo - base, hi - lo, dst + (lo - first));
      base += ns;
    }
  }
  if (add != 0.0f)
    for (int64_t i = 0; i < n; ++i) dst[i] += add;
}

}  // namespace quarrel::convert
