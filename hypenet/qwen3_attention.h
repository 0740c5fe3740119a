// Qwen3 softmax attention: GQA projections, per-head RMSNorm on q and k before RoPE, causal
// scaled-dot-product attention (at::scaled_dot_product_attention) with scale head_dim^-0.5.
#pragma once

#include "hypenet/qwen3_config.h"
#include "hypenet/rms_norm.h"
#include "hypenet/rotary.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

class Qwen3AttentionImpl : public torch::nn::Module {
 public:
  explicit Qwen3AttentionImpl(const Qwen3Config& config);
  // x: [B, T, D]; rope: tables for the T positions. Returns [B, T, D].
  at::Tensor forward(const at::Tensor& x, const RotaryTables& rope);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
};
TORCH_MODULE(Qwen3Attention);

}  // namespace halo::hypenet
