// HypeNet's RNN token mixer (HALO_NOTES 2.1, Figure 3 of the paper): q/k/v projections, optional
// per-head RMSNorm on q and k, RoPE, GQA-to-MHA repetition of k/v heads, the Lightning Attention
// recurrence in float32 (ops/lightning_attention) with fixed ALiBi-slope decays, optional output
// RMSNorm over the concatenated heads and sigmoid output gate, output projection.
// Tensor names follow the authors' HypeNet: self_attn.{q,k,v,o,z}_proj, q_norm, k_norm, o_norm.
#pragma once

#include "hypenet/fused_projection.h"
#include "hypenet/hybrid_cache.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/rms_norm.h"
#include "hypenet/rotary.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

enum class LightningRecurrence { kFloat32, kTf32, kAutocast };

// A forward on the inference cache: the layer's recurrent states (all cache rows) and the step.
// The step's rows start from their stored states, which are replaced by the final ones.
struct LightningCacheInputs {
  at::Tensor* state = nullptr;  // [R, H, Dk, Dv] float32 (float64 for float64 models)
  const CacheStep* step = nullptr;
};

class LightningMixerImpl : public torch::nn::Module {
 public:
  explicit LightningMixerImpl(const HypeNetConfig& config);
  // x: [B, T, D] (a cached forward: the step's layout); rope: null when lightning_use_rope is
  // off; cached: null outside inference.
  at::Tensor forward(const at::Tensor& x, const RotaryTables* rope,
                     const LightningCacheInputs* cached = nullptr);
  // What the recurrence computes in, a training-time choice (pipeline
  // `student.lightning_recurrence`), not part of the checkpoint:
  //   kFloat32 (default)  float32 q, k, v and state, exact float32 products, as the public
  //                       implementation hands fla float32 q, k, v (HALO_NOTES 2);
  //   kTf32               float32 q, k, v and state, products on TF32 tensor cores on CUDA
  //                       (ops/lightning_attention.h): what fla's Triton kernels compute for
  //                       those float32 inputs on Ampere and later;
  //   kAutocast           under autocast, q, k, v in the autocast dtype (bfloat16): the op's bf16
  //                       tensor-core kernels (state and accumulation float32), at bf16 input
  //                       rounding; float32 otherwise.
  void set_recurrence(LightningRecurrence r) { recurrence_ = r; }
  // q, k, v and z as one product from now on (fused_projection.h); false if already fused.
  bool fuse_input_projections();
  LightningRecurrence recurrence() const { return recurrence_; }

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear z_proj{nullptr};         // output gate (null when off)
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // null when lightning_use_qk_norm is off
  RMSNorm o_norm{nullptr};                   // null when lightning_use_output_norm is off
  at::Tensor decay;                          // [H] float32 (CPU), fixed ALiBi slopes

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
  double scale_;
  LightningRecurrence recurrence_ = LightningRecurrence::kFloat32;
  FusedProjection inputs_;  // q, k, v[, z]
  const at::Tensor& decay_on(const at::Device& device);
  // `decay` on the device of the last forward, copied from decay_source_ (the tensor `decay`
  // held then) at decay_source_version_.
  at::Tensor decay_on_device_, decay_source_;
  int64_t decay_source_version_ = -1;
};
TORCH_MODULE(LightningMixer);

}  // namespace halo::hypenet
