// Implementation of rms_norm.h.
#include "hypenet/rms_norm.h"

#include "ops/rms_norm/rms_norm.h"

namespace halo::hypenet {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  return ops::rms_norm(x, weight, eps);
}

RMSNormImpl::RMSNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

}  // namespace halo::hypenet
