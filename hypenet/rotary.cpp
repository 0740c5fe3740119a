// Implementation of rotary.h.
#include "hypenet/rotary.h"

#include <ATen/autocast_mode.h>

namespace halo::hypenet {

RotaryTables rotary_tables(const at::Tensor& positions, int64_t head_dim, double theta,
                           at::ScalarType dtype) {
  // inv_freq = 1 / theta^(arange(0, d, 2) / d) and the angles in float32 exactly as transformers
  // does; a float64 model (test references) computes them in float64.
  const auto math = dtype == at::kDouble ? at::kDouble : at::kFloat;
  auto opts = at::TensorOptions().dtype(math).device(positions.device());
  auto exponents = at::arange(0, head_dim, 2, opts.dtype(at::kLong)).to(math) /
                   static_cast<double>(head_dim);
  auto inv_freq = 1.0 / at::pow(theta, exponents);                  // [d/2]
  auto freqs = positions.to(math).unsqueeze(-1) * inv_freq;         // [..., T, d/2]
  auto emb = at::cat({freqs, freqs}, -1);                             // [..., T, d]
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const RotaryTables& tables) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  // cos/sin: [T, d] or [B, T, d] -> broadcast over heads: [.., T, 1, d].
  auto cos = tables.cos.unsqueeze(-2);
  auto sin = tables.sin.unsqueeze(-2);
  // Under autocast, 16-bit q and k (a float32 model's projections) stay 16-bit, as in a 16-bit
  // model (transformers casts cos/sin to the activation dtype): float32 tables would promote
  // them and the next matmul would cast them back.
  const auto dt = x.scalar_type();
  if ((dt == at::kBFloat16 || dt == at::kHalf) && cos.scalar_type() != dt &&
      at::autocast::is_autocast_enabled(x.device().type())) {
    cos = cos.to(dt);
    sin = sin.to(dt);
  }
  return x * cos + rotated * sin;
}

}  // namespace halo::hypenet
