// A batch of evaluation tokens: what halo::data::PackedLoader's Batch carries (input_ids,
// labels, position_ids), without a dependency on the data library.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace halo::eval {

struct TokenBatch {
  at::Tensor input_ids;     // [B, T] int64
  at::Tensor labels;        // [B, T] int64: the next token of each position; < 0 = ignored
  at::Tensor position_ids;  // [B, T] int64, or undefined for 0..T-1
};

// Checks shapes and dtypes; `what` names the batch in messages (e.g. "validation batch 3").
void check_token_batch(const TokenBatch& batch, const std::string& what);

}  // namespace halo::eval
