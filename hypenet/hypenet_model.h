// HypeNet, the student (HALO_NOTES 2): the teacher's embedding, norms, MLPs and LM head, and per
// layer either softmax attention (NoPE, output gate, inference-time logit scale: HyPE) or a
// Lightning Attention RNN mixer. Parameter names equal the authors' HF tensor names.
#pragma once

#include "hypenet/causal_lm_output.h"
#include "hypenet/hypenet_config.h"
#include "hypenet/lightning_mixer.h"
#include "hypenet/qwen3_attention.h"
#include "hypenet/swiglu_mlp.h"

#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>

namespace halo::hypenet {

// What every layer's token mixer of one forward shares.
struct MixerInputs {
  RotaryTables rope;       // for the mixers that use RoPE (positions of this forward's tokens)
  at::Tensor query_scale;  // HyPE's logit scale for attention layers: [T] / [B, T], or undefined
  HybridCache* cache = nullptr;      // inference: the cache and this forward's step
  const CacheStep* step = nullptr;
};

class HypeNetDecoderLayerImpl : public torch::nn::Module {
 public:
  // `index`: the layer's position in the model (its entry in a HybridCache).
  HypeNetDecoderLayerImpl(const HypeNetConfig& config, MixerType mixer, size_t index);
  // x: [B, T, D] -> [B, T, D]; mixer_in / mixer_out receive the mixer's input and output.
  at::Tensor forward(const at::Tensor& x, const MixerInputs& in, at::Tensor* mixer_in = nullptr,
                     at::Tensor* mixer_out = nullptr);
  // Runs only the token mixer on its (normed) input h: [B, T, D] (stage 1 uses this).
  at::Tensor mixer_forward(const at::Tensor& h, const MixerInputs& in);

  MixerType mixer_type;
  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  Qwen3Attention attention{nullptr};  // registered as "self_attn" when mixer_type is attention
  LightningMixer lightning{nullptr};  // registered as "self_attn" when mixer_type is lightning
  SwiGLUMLP mlp{nullptr};

 private:
  size_t index_;
  bool attn_use_rope_, lightning_use_rope_;
};
TORCH_MODULE(HypeNetDecoderLayer);

class HypeNetBodyImpl : public torch::nn::Module {
 public:
  explicit HypeNetBodyImpl(const HypeNetConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RMSNorm norm{nullptr};
};
TORCH_MODULE(HypeNetBody);

class HypeNetForCausalLMImpl : public torch::nn::Module {
 public:
  explicit HypeNetForCausalLMImpl(const HypeNetConfig& config);
  // ids: int64 [B, T]. With `cache` (inference): ids in the layout of `step` (hybrid_cache.h),
  // positions from the step, every layer reads and extends the cache, whose lengths then advance.
  // The caller checks the ids (no device round trip per token here).
  CausalLMOutput forward(const at::Tensor& ids, const ForwardOptions& options = {},
                         HybridCache* cache = nullptr, const CacheStep* step = nullptr);
  // The mixer inputs of a forward over `positions` (int64 [T] or [B, T]).
  MixerInputs mixer_inputs(const at::Tensor& positions, at::ScalarType dtype, bool training) const;
  const HypeNetConfig& config() const { return config_; }
  at::Tensor output_embedding() const;
  HypeNetDecoderLayerImpl& layer(size_t i) {
    return *model->layers[i]->as<HypeNetDecoderLayerImpl>();
  }
  // LightningMixerImpl::set_recurrence on every Lightning layer.
  void set_lightning_recurrence(LightningRecurrence r);

  HypeNetBody model{nullptr};
  torch::nn::Linear lm_head{nullptr};  // null when tie_word_embeddings

 private:
  HypeNetConfig config_;
};
TORCH_MODULE(HypeNetForCausalLM);

}  // namespace halo::hypenet
