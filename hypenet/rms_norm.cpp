// Implementation of rms_norm.h.
#include "hypenet/rms_norm.h"

#include "ops/rms_norm_rotary/rms_norm_rotary.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>

namespace halo::hypenet {

RMSNormImpl::RMSNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

bool RMSNormImpl::needs_grad(const at::Tensor& x) const {
  return at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad());
}

at::Tensor RMSNormImpl::forward(const at::Tensor& x) {
  auto y = ops::rms_norm(x, weight, eps_);
  // In training under autocast a float32 result leaves in the autocast dtype: every consumer is
  // a matmul that autocast would feed in that dtype anyway, once per consumer (q, k, v and gate
  // projections: four casts forward, four casts back and three float32 gradient sums per norm
  // in backward). One cast here, and the gradient sums run in 16 bits. Same on every device,
  // so CPU autocast runs see the dtypes a GPU run sees.
  const auto device = x.device().type();
  if (y.scalar_type() == at::kFloat && needs_grad(x) && at::autocast::is_autocast_enabled(device)) {
    y = y.to(at::autocast::get_autocast_dtype(device));
  }
  return y;
}

at::Tensor norm_rotary(RMSNormImpl& norm, const at::Tensor& x, const RotaryTables* rope) {
  if (!rope) return norm.forward(x);
  // With a gradient the op would run the norm and then the rotation unfused; here the norm is the
  // module's, so the rotation gets the module's dtype (the autocast one in training).
  if (norm.needs_grad(x)) return ops::rotary_reference(norm.forward(x), rope->cos, rope->sin);
  return ops::rms_norm_rotary(x, norm.weight, norm.eps(), rope->cos, rope->sin);
}

}  // namespace halo::hypenet
