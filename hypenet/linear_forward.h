// The forward of the models' linear layers: ops::decode_linear, which is at::linear (what
// torch::nn::Linear's forward calls) except for the few rows of a decode step on a GPU in
// bfloat16 / float16, where a bandwidth-bound kernel replaces cuBLAS's (ops/decode_linear).
#pragma once

#include "ops/decode_linear/decode_linear.h"

#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

// layer(x), through ops::decode_linear. x: [..., in] -> [..., out].
inline at::Tensor linear_forward(const torch::nn::Linear& layer, const at::Tensor& x) {
  return ops::decode_linear(x, layer->weight, layer->bias);
}

}  // namespace halo::hypenet
