// A fingerprint of the token ids of an optimizer step's global batch, logged with each step
// (metrics.jsonl "batch_hash") so that a run can be checked to see exactly the data order of
// another, whatever the number of processes of either.
//
// Each row of each micro-batch contributes a 32-bit hash of (micro-batch index, the row's index
// in the global batch, its token ids); the fingerprint is the sum of these over the rows of all
// micro-batches and all ranks. A sum does not depend on how the rows were split over ranks or
// in which order the ranks' shares are added, while the hashed position keeps it sensitive to
// rows that trade places. Every partial sum is an integer below 2^53 (fewer than 2^21 rows per
// step), so float64 all-reduces add them exactly.
#pragma once

#include "data/packed_loader.h"

#include <cstdint>

namespace halo::train {

// Sum of the row hashes of `batch` (this rank's b rows of micro-batch `micro`, whose first row is
// row `first_row` of the global batch: rank * b), as an exact integer in a double.
double batch_rows_fingerprint(const data::Batch& batch, int64_t micro, int64_t first_row);

}  // namespace halo::train
