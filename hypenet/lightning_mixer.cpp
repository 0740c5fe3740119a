// Implementation of lightning_mixer.h.
#include "hypenet/lightning_mixer.h"

#include <ATen/autocast_mode.h>
#include <ATen/core/grad_mode.h>
#include <c10/core/InferenceMode.h>

#include "hypenet/linear_forward.h"
#include "ops/lightning_attention/lightning_attention.h"

namespace halo::hypenet {

LightningMixerImpl::LightningMixerImpl(const HypeNetConfig& c)
    : num_heads_(c.lightning_nh),
      num_kv_heads_(c.lightning_nkv),
      head_dim_(c.lightning_head_dim),
      scale_(c.lightning_scale_value()) {
  const int64_t D = c.base.hidden_size, bias = c.base.attention_bias;
  auto linear = [&](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias != 0));
  };
  q_proj = register_module("q_proj", linear(D, num_heads_ * head_dim_));
  k_proj = register_module("k_proj", linear(D, num_kv_heads_ * head_dim_));
  v_proj = register_module("v_proj", linear(D, num_kv_heads_ * head_dim_));
  o_proj = register_module("o_proj", linear(num_heads_ * head_dim_, D));
  if (c.lightning_use_output_norm) {
    o_norm = register_module("o_norm", RMSNorm(num_heads_ * head_dim_, c.base.rms_norm_eps));
  }
  if (c.lightning_use_output_gate)
    z_proj = register_module("z_proj", linear(D, num_heads_ * head_dim_));
  if (c.lightning_use_qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.base.rms_norm_eps));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.base.rms_norm_eps));
  }
  std::vector<torch::nn::Linear> inputs = {q_proj, k_proj, v_proj};
  if (z_proj) inputs.push_back(z_proj);  // the same bias setting as q, k, v
  inputs_ = FusedProjection(std::move(inputs));
  // Not a checkpoint tensor (the public implementation rebuilds it too) and not a buffer: a
  // model-wide dtype cast to bfloat16 would round the slopes.
  decay = ops::alibi_decay_rates(num_heads_);
}

// Copied once per device (and again if `decay` is replaced or changed in place): a copy from
// pageable host memory on every call waits for the stream's queued work (CUDA's documented
// behaviour for such copies), and the op's positivity check then runs once for the copy, not
// once per call.
const at::Tensor& LightningMixerImpl::decay_on(const at::Device& device) {
  const int64_t version = decay.is_inference() ? 0 : decay._version();  // inference: no version
  if (!decay_on_device_.defined() || decay_on_device_.device() != device ||
      !decay_source_.is_same(decay) || decay_source_version_ != version) {
    c10::InferenceMode versioned(false);  // an inference tensor could not be remembered as checked
    decay_on_device_ = decay.to(device);
    decay_source_ = decay;
    decay_source_version_ = version;
  }
  return decay_on_device_;
}

at::Tensor LightningMixerImpl::forward(const at::Tensor& x, const RotaryTables* rope,
                                       const LightningCacheInputs* cached) {
  const int64_t B = x.size(0), T = x.size(1);
  auto parts = inputs_.forward(x);  // q, k, v[, z]: [B, T, H*d] each
  const at::Tensor &qx = parts[0], &kx = parts[1], &vx = parts[2];
  const at::Tensor zx = z_proj ? parts[3] : at::Tensor();
  auto q = qx.view({B, T, num_heads_, head_dim_});     // [B, T, H, d]
  auto k = kx.view({B, T, num_kv_heads_, head_dim_});  // [B, T, Hkv, d]
  auto v = vx.view({B, T, num_kv_heads_, head_dim_});  // [B, T, Hkv, d]
  if (q_norm) {  // then RoPE (if any): one fused kernel per tensor at inference on a GPU
    q = norm_rotary(*q_norm, q, rope);
    k = norm_rotary(*k_norm, k, rope);
  } else if (rope) {
    q = apply_rotary(q, *rope);
    k = apply_rotary(k, *rope);
  }
  if (num_kv_heads_ < num_heads_) {
    const int64_t g = num_heads_ / num_kv_heads_;
    k = k.repeat_interleave(g, /*dim=*/2);  // [B, T, H, d]
    v = v.repeat_interleave(g, /*dim=*/2);
  }
  // The recurrence runs on float32 q, k, v and state, as in the public implementation (float64
  // stays float64 so tests can compare against an exact reference), unless the training run
  // asked for TF32 products or the autocast dtype (set_recurrence).
  auto compute = x.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto device_type = x.device().type();
  if (recurrence_ == LightningRecurrence::kAutocast && compute == at::kFloat &&
      at::autocast::is_autocast_enabled(device_type)) {
    compute = at::autocast::get_autocast_dtype(device_type);
  }
  const bool tf32 = recurrence_ == LightningRecurrence::kTf32;
  at::Tensor init, cu_seqlens;  // a cached forward starts each segment from its row's state
  if (cached) {
    init = gather_rows(*cached->state, *cached->step);  // [N, H, Dk, Dv]
    if (cached->step->packed) cu_seqlens = cached->step->cu_seqlens;
  }
  // A decode step on a GPU runs the op's decode kernel, which reads 16-bit q, k, v into float32
  // itself (exactly the values a cast gives) and rounds o to their dtype once (as the cast back
  // below would): passing them uncast gives the same bits and saves four kernels per layer.
  const bool decode_kernel = cached && x.is_cuda() && T == 1 && !cached->step->packed &&
                             !at::GradMode::is_enabled() && compute == at::kFloat;
  const auto in_dtype = decode_kernel ? q.scalar_type() : compute;
  auto [o, final_state] =
      ops::lightning_attention(q.to(in_dtype), k.to(in_dtype), v.to(in_dtype),
                               decay_on(q.device()), scale_, init, cu_seqlens, tf32);
  if (cached) scatter_rows(*cached->state, *cached->step, final_state);
  o = o.reshape({B, T, num_heads_ * head_dim_}).to(x.scalar_type());  // [B, T, H*d]
  if (o_norm) o = o_norm(o);
  if (zx.defined()) o = o * at::sigmoid(zx);
  return linear_forward(o_proj, o);
}

bool LightningMixerImpl::fuse_input_projections() {
  return inputs_.fuse();
}

}  // namespace halo::hypenet
