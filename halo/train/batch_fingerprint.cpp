// batch_rows_fingerprint: splitmix64 chained over (micro, row, tokens), folded to 32 bits.
#include "halo/train/batch_fingerprint.h"

#include "common/error.h"
#include "common/splitmix64.h"

#include <ATen/ATen.h>

namespace halo::train {

double batch_rows_fingerprint(const data::Batch& batch, int64_t micro, int64_t first_row) {
  const auto& ids = batch.input_ids;  // [b, T] int64
  HALO_CHECK(ids.defined() && ids.dim() == 2 && ids.scalar_type() == at::kLong && ids.is_cpu(),
             "batch fingerprint: input_ids must be a [b, T] int64 CPU tensor, got ",
             ids.defined() ? ids.sizes() : at::IntArrayRef{});
  const auto rows = ids.contiguous();
  const auto a = rows.accessor<int64_t, 2>();
  uint64_t sum = 0;
  for (int64_t r = 0; r < a.size(0); ++r) {
    uint64_t h = splitmix64(static_cast<uint64_t>(micro));
    h = splitmix64(h ^ static_cast<uint64_t>(first_row + r));
    for (int64_t t = 0; t < a.size(1); ++t) h = splitmix64(h ^ static_cast<uint64_t>(a[r][t]));
    sum += h >> 32;
  }
  return static_cast<double>(sum);
}

}  // namespace halo::train
