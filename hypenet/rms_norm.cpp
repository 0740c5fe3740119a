// Implementation of rms_norm.h.
#include "hypenet/rms_norm.h"

namespace halo::hypenet {

RMSNormImpl::RMSNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

}  // namespace halo::hypenet
