// Implementation of qwen3_attention.h.
#include "hypenet/qwen3_attention.h"

#include "common/error.h"
#include "hypenet/cached_attention.h"
#include "hypenet/linear_forward.h"

#include <cmath>

namespace halo::hypenet {

Qwen3AttentionImpl::Qwen3AttentionImpl(const Qwen3Config& c, bool use_output_gate)
    : num_heads_(c.num_attention_heads), num_kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  auto linear = [&](int64_t in, int64_t out, bool bias) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(bias));
  };
  q_proj = register_module("q_proj", linear(c.hidden_size, num_heads_ * head_dim_, c.attention_bias));
  k_proj = register_module("k_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_, c.attention_bias));
  v_proj = register_module("v_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_, c.attention_bias));
  o_proj = register_module("o_proj", linear(num_heads_ * head_dim_, c.hidden_size, c.attention_bias));
  q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  if (use_output_gate) {
    o_gate = register_module("o_gate", linear(c.hidden_size, num_heads_ * head_dim_, false));
  }
  // o_gate has no bias: it joins q, k and v's product only when they have none either.
  gate_in_inputs_ = o_gate && !q_proj->bias.defined();
  std::vector<torch::nn::Linear> inputs = {q_proj, k_proj, v_proj};
  if (gate_in_inputs_) inputs.push_back(o_gate);
  inputs_ = FusedProjection(std::move(inputs));
}

at::Tensor Qwen3AttentionImpl::forward(const at::Tensor& x, const AttentionInputs& in) {
  const int64_t B = x.size(0), T = x.size(1);
  auto parts = inputs_.forward(x);  // q, k, v[, gate]: [B, T, H*d] each
  const auto &qx = parts[0], &kx = parts[1], &vx = parts[2];
  at::Tensor gx;
  if (o_gate) gx = gate_in_inputs_ ? parts[3] : linear_forward(o_gate, x);
  // q_norm / k_norm then RoPE (if any): one fused kernel per tensor at inference on a GPU.
  auto q = norm_rotary(*q_norm, qx.view({B, T, num_heads_, head_dim_}), in.rope);
  auto k = norm_rotary(*k_norm, kx.view({B, T, num_kv_heads_, head_dim_}), in.rope);
  auto v = vx.view({B, T, num_kv_heads_, head_dim_});  // [B, T, Hkv, d]
  const double scale = 1.0 / std::sqrt(double(head_dim_));
  if (in.cache) {
    HALO_CHECK(in.step && !in.entropy_out,
               "attention: a cached forward needs its step and cannot capture the entropy");
    // [B, T, Hq, d]; applies query_scale itself (folded into the decode kernel's logit scale)
    auto o = cached_attention(q, k, v, *in.cache, *in.step, scale, in.query_scale);
    o = o.reshape({B, T, num_heads_ * head_dim_});
    if (gx.defined()) o = o * at::sigmoid(gx);
    return linear_forward(o_proj, o);
  }
  if (in.query_scale.defined()) {
    // [T] or [B, T] -> broadcast over heads and head dim; result back in the activation dtype.
    q = (q * in.query_scale.unsqueeze(-1).unsqueeze(-1)).to(x.scalar_type());
  }
  q = q.transpose(1, 2);  // [B, Hq, T, d]
  k = k.transpose(1, 2);  // [B, Hkv, T, d]
  v = v.transpose(1, 2);
  if (in.entropy_out) {
    *in.entropy_out = causal_attention_entropy(q, k, scale);
  }
  auto o = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt,
                                            /*dropout_p=*/0.0, /*is_causal=*/true,
                                            /*scale=*/scale,
                                            /*enable_gqa=*/num_heads_ != num_kv_heads_);
  o = o.transpose(1, 2).reshape({B, T, num_heads_ * head_dim_});      // [B, T, Hq*d]
  if (gx.defined()) o = o * at::sigmoid(gx);
  return linear_forward(o_proj, o);
}

bool Qwen3AttentionImpl::fuse_input_projections() {
  return inputs_.fuse();
}

at::Tensor causal_attention_entropy(const at::Tensor& q, const at::Tensor& k, double scale) {
  const int64_t T = q.size(2), group = q.size(1) / k.size(1);
  auto kk = group > 1 ? k.repeat_interleave(group, 1) : k;                  // [B, Hq, T, d]
  auto scores = at::matmul(q.to(at::kFloat), kk.to(at::kFloat).transpose(-1, -2)) * scale;
  auto future = at::ones({T, T}, q.options().dtype(at::kBool)).triu(1);  // [T, T]
  auto p = at::softmax(scores.masked_fill(future, -INFINITY), -1);         // [B, Hq, T, T]
  return -at::special_xlogy(p, p).sum(-1);                                 // [B, Hq, T]
}

}  // namespace halo::hypenet
