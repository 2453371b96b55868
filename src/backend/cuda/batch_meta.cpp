#include "backend/cuda/batch_meta.h"

namespace quarrel::backend {

MetaLayout meta_layout(size_t tokens, size_t bt, int n_dims, bool rope_swa) {
  MetaLayout l;
  auto take = [&](size_t bytes) {
    const size_t o = l.bytes;
    l.bytes += meta_aligned(bytes);
    return o;
  };
  l.slots = take(tokens * 8);
  l.tokens = take(tokens * 4);
  l.pos = take(tokens * 4);
  l.bt_off = take(tokens * 4);
  l.rows = take(tokens * 4);
  l.cs = take(tokens * static_cast<size_t>(n_dims) * 4);  // cos, sin per rotated pair
  l.cs_swa = rope_swa ? take(tokens * static_cast<size_t>(n_dims) * 4) : l.cs;
  l.bt = take(bt * 4);
  l.tiles = take(tokens * 8);
  return l;
}

}  // namespace quarrel::backend
