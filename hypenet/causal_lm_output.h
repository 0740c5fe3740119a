// Forward options and outputs shared by the causal language models (Qwen3 teacher, HypeNet).
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <vector>

namespace halo::hypenet {

struct ForwardOptions {
  at::Tensor positions;         // int64 [T] or [B, T]; default arange(T)
  // 0: logits for every position; k: only the last k. A forward on a packed cache step keeps
  // with 1 the last token of each segment ([1, N, V]) and takes no other k.
  int64_t logits_to_keep = 0;
  bool capture_mixers = false;  // fill mixer_inputs / mixer_outputs
  bool return_hidden = false;   // fill `hidden` (final-normed hidden states)
  bool skip_logits = false;     // leave `logits` undefined (callers that only need hidden states)
  bool training = false;        // HypeNet: no inference-time attention logit scaling
  // Qwen3: fill attention_entropy (an extra explicit softmax per layer; off by default, when
  // the attention runs only the fused scaled_dot_product_attention).
  bool capture_attention_entropy = false;
  // Wraps each decoder layer from outside (activation checkpointing, as torchtitan applies it):
  // called as layer_hook(i, run, x) and must return run(x) or an equivalent; `run` stays valid
  // after the forward (it holds what it needs by value). Empty: layers run directly.
  std::function<at::Tensor(size_t layer, const std::function<at::Tensor(const at::Tensor&)>& run,
                           const at::Tensor& x)>
      layer_hook;
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
