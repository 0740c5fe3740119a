// The reference RMSNorm + rotary in ATen ops: ops::rms_norm_reference, then the rotate-half
// rotation written out exactly as hypenet::apply_rotary runs it (the same ATen ops in the same
// order, so the same roundings on 16-bit tensors).
#include "ops/rms_norm_rotary/rms_norm_rotary.h"

#include "ops/rms_norm/rms_norm.h"

#include <ATen/autocast_mode.h>

namespace halo::ops {

at::Tensor rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  auto x1 = x.narrow(-1, 0, half);
  auto x2 = x.narrow(-1, half, half);
  auto rotated = at::cat({-x2, x1}, -1);
  // [T, d] or [B, T, d] -> broadcast over heads: [.., T, 1, d].
  auto c = cos.unsqueeze(-2);
  auto s = sin.unsqueeze(-2);
  // As apply_rotary: under autocast, 16-bit q and k stay 16-bit (float32 tables are cast).
  const auto dt = x.scalar_type();
  if ((dt == at::kBFloat16 || dt == at::kHalf) && c.scalar_type() != dt &&
      at::autocast::is_autocast_enabled(x.device().type())) {
    c = c.to(dt);
    s = s.to(dt);
  }
  return x * c + rotated * s;
}

at::Tensor rms_norm_rotary_reference(const at::Tensor& x, const at::Tensor& weight, double eps,
                                     const at::Tensor& cos, const at::Tensor& sin) {
  return rotary_reference(rms_norm_reference(x, weight, eps), cos, sin);
}

}  // namespace halo::ops
