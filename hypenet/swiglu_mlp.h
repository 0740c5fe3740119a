// The SwiGLU feed-forward block shared by the Qwen3 teacher and HypeNet:
// down_proj(silu(gate_proj(x)) * up_proj(x)), no biases.
#pragma once

#include "hypenet/fused_projection.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

class SwiGLUMLPImpl : public torch::nn::Module {
 public:
  SwiGLUMLPImpl(int64_t hidden_size, int64_t intermediate_size);
  at::Tensor forward(const at::Tensor& x);  // [B, T, D] -> [B, T, D]
  // gate_proj and up_proj as one product from now on (fused_projection.h); false if already.
  bool fuse_input_projections();

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};

 private:
  FusedProjection gate_up_;
};
TORCH_MODULE(SwiGLUMLP);

}  // namespace halo::hypenet
