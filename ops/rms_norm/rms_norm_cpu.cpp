// The reference RMSNorm in ATen ops, exactly as transformers' Qwen3RMSNorm computes it, and the
// variant with ATen's fused normalisation (the training path on CUDA).
#include "ops/rms_norm/rms_norm.h"

namespace halo::ops {

at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps) {
  // Statistics in float32 as transformers does (float64 inputs stay float64, for gradchecks).
  auto x32 = x.scalar_type() == at::kDouble ? x : x.to(at::kFloat);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  auto normed = (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
  return weight * normed;
}

at::Tensor rms_norm_fused_normalize(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const bool wide = x.scalar_type() == at::kDouble || x.scalar_type() == at::kFloat;
  if (wide && weight.scalar_type() == x.scalar_type()) {
    // No rounding between the normalisation and the weight, so the weight goes into the fused
    // kernel: one pass instead of a second broadcast multiply (and its backward).
    return std::get<0>(at::_fused_rms_norm(x, {x.size(-1)}, weight, eps));
  }
  auto x32 = wide ? x : x.to(at::kFloat);
  auto normed = std::get<0>(at::_fused_rms_norm(x32, {x.size(-1)}, std::nullopt, eps));
  return weight * normed.to(x.scalar_type());
}

}  // namespace halo::ops
