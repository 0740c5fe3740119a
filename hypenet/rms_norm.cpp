// Implementation of rms_norm.h.
#include "hypenet/rms_norm.h"

#include "ops/rms_norm_rotary/rms_norm_rotary.h"

namespace halo::hypenet {

RMSNormImpl::RMSNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

at::Tensor norm_rotary(RMSNormImpl& norm, const at::Tensor& x, const RotaryTables* rope) {
  if (!rope) return norm.forward(x);
  return ops::rms_norm_rotary(x, norm.weight, norm.eps(), rope->cos, rope->sin);
}

}  // namespace halo::hypenet
