// The RMSNorm module of the models (parameter `weight`); the computation is the ops/rms_norm op:
// in float32, `x / sqrt(mean(x^2) + eps)`, cast back to the input dtype, times the weight.
#pragma once

#include <torch/nn/module.h>

namespace halo::hypenet {

// x: [..., N], weight: [N]. Returns [..., N] in the promoted dtype of weight and x (as HF).
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps);
  at::Tensor forward(const at::Tensor& x) { return rms_norm(x, weight, eps_); }
  at::Tensor weight;  // [N], initialised to ones

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

}  // namespace halo::hypenet
