// The Qwen3 teacher: a pre-norm decoder (x + Attn(RMSNorm(x)), x + MLP(RMSNorm(x))), final
// RMSNorm and LM head (tied to the embedding when the config says so). Parameter names equal
// the Hugging Face tensor names ("model.layers.0.self_attn.q_proj.weight", ...), so loading and
// saving map named_parameters() one to one onto safetensors entries.
#pragma once

#include "hypenet/causal_lm_output.h"
#include "hypenet/qwen3_attention.h"
#include "hypenet/qwen3_config.h"
#include "hypenet/rms_norm.h"
#include "hypenet/swiglu_mlp.h"

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/modules/linear.h>

#include <vector>

namespace halo::hypenet {

class Qwen3DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit Qwen3DecoderLayerImpl(const Qwen3Config& config);
  // x: [B, T, D] -> [B, T, D]. When mixer_in / mixer_out are given they receive the attention's
  // input (the normed hidden state) and output (before the residual add).
  at::Tensor forward(const at::Tensor& x, const AttentionInputs& in, at::Tensor* mixer_in = nullptr,
                     at::Tensor* mixer_out = nullptr);

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Qwen3Attention self_attn{nullptr};
  SwiGLUMLP mlp{nullptr};
};
TORCH_MODULE(Qwen3DecoderLayer);

// The body ("model." in HF names): embedding, layers, final norm.
class Qwen3BodyImpl : public torch::nn::Module {
 public:
  explicit Qwen3BodyImpl(const Qwen3Config& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(Qwen3Body);

class Qwen3ForCausalLMImpl : public torch::nn::Module {
 public:
  explicit Qwen3ForCausalLMImpl(const Qwen3Config& config);
  // ids: int64 [B, T]. With `cache` (inference): ids in the layout of `step` (hybrid_cache.h),
  // positions from the step, every layer reads and extends its KV cache, whose lengths then
  // advance. The caller checks the ids (no device round trip per token here).
  CausalLMOutput forward(const at::Tensor& ids, const ForwardOptions& options = {},
                         HybridCache* cache = nullptr, const CacheStep* step = nullptr);
  const Qwen3Config& config() const { return config_; }
  // [V, D]: lm_head.weight, or the embedding when tied.
  at::Tensor output_embedding() const;

  Qwen3Body model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  Qwen3Config config_;
};
TORCH_MODULE(Qwen3ForCausalLM);

}  // namespace halo::hypenet
