// The ATen reference of the decode linear op: at::linear, the semantics the kernel keeps.
#include "ops/decode_linear/decode_linear.h"

namespace halo::ops {

at::Tensor decode_linear_reference(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias) {
  return bias.defined() ? at::linear(x, weight, bias) : at::linear(x, weight);
}

}  // namespace halo::ops
