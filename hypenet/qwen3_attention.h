// Softmax attention of the Qwen3 teacher and of HypeNet's attention layers: GQA projections,
// per-head RMSNorm on q and k, RoPE when given (HypeNet's attention layers run NoPE), causal
// at::scaled_dot_product_attention with scale head_dim^-0.5, an optional sigmoid output gate
// (`o_gate`, HypeNet) and an optional per-position query scale (HyPE's log(t+a)/log(a)); on a
// KV cache for inference (cached_attention.h).
#pragma once

#include "hypenet/fused_projection.h"
#include "hypenet/hybrid_cache.h"
#include "hypenet/qwen3_config.h"
#include "hypenet/rms_norm.h"
#include "hypenet/rotary.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace halo::hypenet {

// Per-forward inputs of an attention layer.
struct AttentionInputs {
  const RotaryTables* rope = nullptr;  // null: no position encoding (NoPE)
  at::Tensor query_scale;              // undefined, or [T] / [B, T] factor applied to q
  // When set, receives [B, Hq, T] float32: the entropy of each query's causal attention
  // probabilities, from an explicit float32 softmax (extra work, only when asked for; the
  // output itself still comes from scaled_dot_product_attention).
  at::Tensor* entropy_out = nullptr;
  // Inference on a cache: write this step's keys and values into `cache` and attend to the
  // row's cached tokens (cached_attention.h). Both set or both null.
  KvCache* cache = nullptr;
  const CacheStep* step = nullptr;
};

// Entropy (nats) [B, Hq, T] of causal softmax attention with q: [B, Hq, T, d], k: [B, Hkv, T, d]
// (Hq a multiple of Hkv) and the given logit scale, computed in float32.
at::Tensor causal_attention_entropy(const at::Tensor& q, const at::Tensor& k, double scale);

class Qwen3AttentionImpl : public torch::nn::Module {
 public:
  explicit Qwen3AttentionImpl(const Qwen3Config& config, bool use_output_gate = false);
  // x: [B, T, D] -> [B, T, D].
  at::Tensor forward(const at::Tensor& x, const AttentionInputs& in);
  // q, k, v (and o_gate when it has the same bias setting) as one product from now on
  // (fused_projection.h); false if already fused.
  bool fuse_input_projections();

  torch::nn::Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  torch::nn::Linear o_gate{nullptr};  // [Hq*d, D], no bias; null unless use_output_gate
  RMSNorm q_norm{nullptr}, k_norm{nullptr};

 private:
  int64_t num_heads_, num_kv_heads_, head_dim_;
  FusedProjection inputs_;  // q, k, v[, o_gate]
  bool gate_in_inputs_ = false;
};
TORCH_MODULE(Qwen3Attention);

}  // namespace halo::hypenet
