// Implementation of rotary.h.
#include "hypenet/rotary.h"

#include "ops/rms_norm_rotary/rms_norm_rotary.h"

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
  // One implementation of the rotation: the ops' reference, which the fused kernel of
  // ops/rms_norm_rotary matches bit for bit.
  return ops::rotary_reference(x, tables.cos, tables.sin);
}

}  // namespace halo::hypenet
