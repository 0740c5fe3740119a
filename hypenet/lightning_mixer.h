// HypeNet's RNN token mixer (HALO_NOTES 2.1, Figure 3 of the paper): q/k/v projections, optional
// per-head RMSNorm on q and k, RoPE, GQA-to-MHA repetition of k/v heads, the Lightning Attention
// recurrence in float32 (ops/lightning_attention) with fixed ALiBi-slope decays, optional output
// RMSNorm over the concatenated heads and sigmoid output gate, output projection.
// Tensor names follow the authors' HypeNet: self_attn.{q,k,v,o,z}_proj, q_norm, k_norm, o_norm.
#pragma once

#include "hypenet/hypenet_config.h"
#include "hypenet/rms_norm.h"
#include "hypenet/rotary.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

// Recurrent state of one Lightning layer across calls (prefill, then decode steps).
struct LightningState {
  at::Tensor state;  // [B, H, Dk, Dv] float32; undefined = zeros
};

class LightningMixerImpl : public torch::nn::Module {
 public:
  explicit LightningMixerImpl(const HypeNetConfig& config);
  // x: [B, T, D]; rope: null when lightning_use_rope is off; state: optional in/out.
  at::Tensor forward(const at::Tensor& x, const RotaryTables* rope,
                     LightningState* state = nullptr);

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear z_proj{nullptr};        // output gate (null when off)
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // null when lightning_use_qk_norm is off
  RMSNorm o_norm{nullptr};                   // null when lightning_use_output_norm is off
  at::Tensor decay;                          // [H] float32 (CPU), fixed ALiBi slopes

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
  double scale_;
};
TORCH_MODULE(LightningMixer);

}  // namespace halo::hypenet
