// Implementation of rms_norm.h.
#include "hypenet/rms_norm.h"

namespace halo::hypenet {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  auto x32 = x.to(at::kFloat);
  auto variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  auto normed = (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
  return weight * normed;
}

RMSNormImpl::RMSNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

}  // namespace halo::hypenet
