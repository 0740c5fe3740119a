// The RMSNorm module of the models (parameter `weight`); the computation is the ops/rms_norm op:
// in float32, `x / sqrt(mean(x^2) + eps)`, cast back to the input dtype, times the weight.
#pragma once

#include "ops/rms_norm/rms_norm.h"

#include <torch/nn/module.h>

namespace halo::hypenet {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps);
  // x: [..., N] -> [..., N].
  at::Tensor forward(const at::Tensor& x) { return ops::rms_norm(x, weight, eps_); }
  at::Tensor weight;  // [N], initialised to ones

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace halo::hypenet
