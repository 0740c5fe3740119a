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
  // Off (default): the recurrence always gets float32 q, k, v, as the public implementation
  // (HALO_NOTES 2). On: under autocast it gets them in the autocast dtype (bfloat16), and the
  // op's bf16 tensor-core kernels run (state and accumulation stay float32): 5.7x faster
  // forward+backward at 1 x 16384 on an H100, at bf16 input rounding. A training-time choice
  // (pipeline `student.lightning_recurrence`), not part of the checkpoint.
  void set_recurrence_in_autocast_dtype(bool on) { autocast_recurrence_ = on; }
  bool recurrence_in_autocast_dtype() const { return autocast_recurrence_; }

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear z_proj{nullptr};         // output gate (null when off)
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // null when lightning_use_qk_norm is off
  RMSNorm o_norm{nullptr};                   // null when lightning_use_output_norm is off
  at::Tensor decay;                          // [H] float32 (CPU), fixed ALiBi slopes

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
  double scale_;
  bool autocast_recurrence_ = false;
};
TORCH_MODULE(LightningMixer);

}  // namespace halo::hypenet
