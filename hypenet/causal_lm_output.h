// Forward options and outputs shared by the causal language models (Qwen3 teacher, HypeNet).
#pragma once

#include <ATen/ATen.h>

#include <vector>

namespace halo::hypenet {

struct ForwardOptions {
  at::Tensor positions;         // int64 [T] or [B, T]; default arange(T)
  int64_t logits_to_keep = 0;   // 0: logits for every position; k: only the last k
  bool capture_mixers = false;  // fill mixer_inputs / mixer_outputs
  bool return_hidden = false;   // fill `hidden` (final-normed hidden states)
  bool skip_logits = false;     // leave `logits` undefined (callers that only need hidden states)
  bool training = false;        // HypeNet: no inference-time attention logit scaling
  // Qwen3: fill attention_entropy (an extra explicit softmax per layer; off by default, when
  // the attention runs only the fused scaled_dot_product_attention).
  bool capture_attention_entropy = false;
};

struct CausalLMOutput {
  at::Tensor logits;                      // [B, T', V] in the model dtype
  at::Tensor hidden;                      // [B, T, D] after the final norm (if requested)
  std::vector<at::Tensor> mixer_inputs;   // per layer [B, T, D] (if requested)
  std::vector<at::Tensor> mixer_outputs;  // per layer [B, T, D] (if requested)
  // per layer [B, Hq, T] float32: entropy (nats) of each query's attention distribution over
  // its keys, -sum_s p log p (if requested; Qwen3 only)
  std::vector<at::Tensor> attention_entropy;
};

}  // namespace halo::hypenet
