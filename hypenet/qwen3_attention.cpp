// Implementation of qwen3_attention.h.
#include "hypenet/qwen3_attention.h"

#include <cmath>

namespace halo::hypenet {

Qwen3AttentionImpl::Qwen3AttentionImpl(const Qwen3Config& c)
    : num_heads_(c.num_attention_heads), num_kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  auto linear = [&](int64_t in, int64_t out) {
    return torch::nn::Linear(torch::nn::LinearOptions(in, out).bias(c.attention_bias));
  };
  q_proj = register_module("q_proj", linear(c.hidden_size, num_heads_ * head_dim_));
  k_proj = register_module("k_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_));
  v_proj = register_module("v_proj", linear(c.hidden_size, num_kv_heads_ * head_dim_));
  o_proj = register_module("o_proj", linear(num_heads_ * head_dim_, c.hidden_size));
  q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps));
  k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps));
}

at::Tensor Qwen3AttentionImpl::forward(const at::Tensor& x, const RotaryTables& rope) {
  const int64_t B = x.size(0), T = x.size(1);
  auto q = q_norm(q_proj(x).view({B, T, num_heads_, head_dim_}));     // [B, T, Hq, d]
  auto k = k_norm(k_proj(x).view({B, T, num_kv_heads_, head_dim_}));  // [B, T, Hkv, d]
  auto v = v_proj(x).view({B, T, num_kv_heads_, head_dim_});          // [B, T, Hkv, d]
  q = apply_rotary(q, rope).transpose(1, 2);                          // [B, Hq, T, d]
  k = apply_rotary(k, rope).transpose(1, 2);                          // [B, Hkv, T, d]
  v = v.transpose(1, 2);
  auto o = at::scaled_dot_product_attention(q, k, v, /*attn_mask=*/std::nullopt,
                                            /*dropout_p=*/0.0, /*is_causal=*/true,
                                            /*scale=*/1.0 / std::sqrt(double(head_dim_)),
                                            /*enable_gqa=*/num_heads_ != num_kv_heads_);
  o = o.transpose(1, 2).reshape({B, T, num_heads_ * head_dim_});      // [B, T, Hq*d]
  return o_proj(o);
}

}  // namespace halo::hypenet
