// The SwiGLU feed-forward block shared by the Qwen3 teacher and HypeNet:
// down_proj(silu(gate_proj(x)) * up_proj(x)), no biases.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

class SwiGLUMLPImpl : public torch::nn::Module {
 public:
  SwiGLUMLPImpl(int64_t hidden_size, int64_t intermediate_size);
  at::Tensor forward(const at::Tensor& x);  // [B, T, D] -> [B, T, D]

  torch::nn::Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(SwiGLUMLP);

}  // namespace halo::hypenet
