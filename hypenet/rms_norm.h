// The RMSNorm module of the models (parameter `weight`); the computation is the ops/rms_norm op:
// in float32, `x / sqrt(mean(x^2) + eps)`, cast back to the input dtype, times the weight. The
// module, not the op, owns the autocast policy: in training under autocast a float32 result
// leaves in the autocast dtype (rms_norm.cpp says why).
#pragma once

#include "ops/rms_norm/rms_norm.h"

#include "hypenet/rotary.h"

#include <torch/nn/module.h>

namespace halo::hypenet {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t size, double eps);
  // x: [..., N] -> [..., N]: ops::rms_norm; when needs_grad(x) under autocast, a float32 result
  // is cast to the autocast dtype.
  at::Tensor forward(const at::Tensor& x);
  // Whether a gradient flows through this norm for x (grad mode on and x or the weight needs
  // one): the training case, the only one in which forward applies autocast.
  bool needs_grad(const at::Tensor& x) const;
  at::Tensor weight;  // [N], initialised to ones
  double eps() const { return eps_; }

 private:
  double eps_;
};
TORCH_MODULE(RMSNorm);

// norm(x) then RoPE with `rope` (null: the norm alone) for x [B, T, H, d]: the q_norm / k_norm +
// apply_rotary pair of the attention and Lightning layers, through ops::rms_norm_rotary (one
// fused kernel at inference on a GPU, bitwise the unfused result; the unfused path elsewhere).
at::Tensor norm_rotary(RMSNormImpl& norm, const at::Tensor& x, const RotaryTables* rope);

}  // namespace halo::hypenet
