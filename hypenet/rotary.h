// Rotary position embedding (RoPE), rotate-half convention, as HF transformers computes it:
// inv_freq and the angle table in float32 (float64 for float64 models), cos/sin cast to the
// activation dtype.
#pragma once

#include <ATen/ATen.h>

namespace halo::hypenet {

struct RotaryTables {
  at::Tensor cos;  // [T, head_dim] (or [B, T, head_dim] for per-sequence positions)
  at::Tensor sin;  // same shape as cos
};

// positions: int64 [T] or [B, T] (0-based, may restart per document).
RotaryTables rotary_tables(const at::Tensor& positions, int64_t head_dim, double theta,
                           at::ScalarType dtype);

// x: [B, T, H, head_dim]; returns x * cos + rotate_half(x) * sin.
at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& tables);

}  // namespace halo::hypenet
