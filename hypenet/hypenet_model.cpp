// Implementation of hypenet_model.h.
#include "hypenet/hypenet_model.h"

#include "common/error.h"
#include "hypenet/decoder_block.h"
#include "ops/decode_linear/decode_linear.h"

#include <cmath>

namespace halo::hypenet {

HypeNetDecoderLayerImpl::HypeNetDecoderLayerImpl(const HypeNetConfig& c, MixerType mixer,
                                                 size_t index)
    : mixer_type(mixer),
      index_(index),
      attn_use_rope_(c.attn_use_rope),
      lightning_use_rope_(c.lightning_use_rope) {
  const auto& b = c.base;
  input_layernorm = register_module("input_layernorm", RMSNorm(b.hidden_size, b.rms_norm_eps));
  if (mixer == MixerType::kAttention) {
    attention = register_module("self_attn", Qwen3Attention(b, c.attn_use_output_gate));
  } else {
    lightning = register_module("self_attn", LightningMixer(c));
  }
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(b.hidden_size, b.rms_norm_eps));
  mlp = register_module("mlp", SwiGLUMLP(b.hidden_size, b.intermediate_size));
}

at::Tensor HypeNetDecoderLayerImpl::mixer_forward(const at::Tensor& h, const MixerInputs& in) {
  if (mixer_type == MixerType::kAttention) {
    AttentionInputs a{attn_use_rope_ ? &in.rope : nullptr, in.query_scale};
    if (in.cache) {
      a.cache = &in.cache->kv(index_);
      a.step = in.step;
    }
    return attention(h, a);
  }
  LightningCacheInputs cached;
  if (in.cache) cached = {&in.cache->state(index_), in.step};
  return lightning(h, lightning_use_rope_ ? &in.rope : nullptr, in.cache ? &cached : nullptr);
}

at::Tensor HypeNetDecoderLayerImpl::forward(const at::Tensor& x, const MixerInputs& in,
                                            at::Tensor* mixer_in, at::Tensor* mixer_out) {
  return pre_norm_block(
      x, input_layernorm, [&](const at::Tensor& h) { return mixer_forward(h, in); },
      post_attention_layernorm, mlp, mixer_in, mixer_out);
}

HypeNetBodyImpl::HypeNetBodyImpl(const HypeNetConfig& c) {
  embed_tokens =
      register_module("embed_tokens", torch::nn::Embedding(c.base.vocab_size, c.base.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (size_t i = 0; i < c.mixer_types.size(); ++i) {
    layers->push_back(HypeNetDecoderLayer(c, c.mixer_types[i], i));
  }
  norm = register_module("norm", RMSNorm(c.base.hidden_size, c.base.rms_norm_eps));
}

HypeNetForCausalLMImpl::HypeNetForCausalLMImpl(const HypeNetConfig& c) : config_(c) {
  config_.validate("HypeNet config");
  model = register_module("model", HypeNetBody(c));
  if (!c.base.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head",
        torch::nn::Linear(
            torch::nn::LinearOptions(c.base.hidden_size, c.base.vocab_size).bias(false)));
  }
}

at::Tensor HypeNetForCausalLMImpl::output_embedding() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

void HypeNetForCausalLMImpl::set_lightning_recurrence(LightningRecurrence r) {
  for (size_t i = 0; i < model->layers->size(); ++i) {
    if (layer(i).lightning) layer(i).lightning->set_recurrence(r);
  }
}

MixerInputs HypeNetForCausalLMImpl::mixer_inputs(const at::Tensor& positions,
                                                 at::ScalarType dtype, bool training) const {
  const auto& b = config_.base;
  MixerInputs in;
  in.rope = rotary_tables(positions, b.head_dim, b.rope_theta, dtype);
  // HyPE's inference-time logit scale for the attention layers, at absolute positions.
  if (!training && config_.attn_logits_scaling_a) {
    const double a = *config_.attn_logits_scaling_a;
    // [T] or [B, T], in float32 (float64 for a float64 model: a float32 factor would limit it
    // to float32 precision)
    const auto math = dtype == at::kDouble ? at::kDouble : at::kFloat;
    in.query_scale = at::log(positions.to(math) + a) / std::log(a);
  } else if (!training && config_.attn_logits_scaling_const) {
    in.query_scale =
        at::full(positions.sizes(), *config_.attn_logits_scaling_const,
                 positions.options().dtype(dtype == at::kDouble ? at::kDouble : at::kFloat));
  }
  return in;
}

CausalLMOutput HypeNetForCausalLMImpl::forward(const at::Tensor& ids, const ForwardOptions& opt,
                                               HybridCache* cache, const CacheStep* step) {
  HALO_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong,
             "HypeNet forward: ids must be int64 [B, T], got ", ids.sizes(), " ",
             ids.scalar_type());
  // Token ids are not range-checked here: a check reads them on the host (.item(), a wait for
  // the device on every forward). They are checked once where they enter: the loader (against
  // the manifest's vocabulary, which pre-flight and eval check against the model's), the CLI's
  // forward / generate / eval inputs and the generation engine's prompts.
  const size_t L = model->layers->size();
  const auto positions = forward_positions(ids, opt, cache, step, L, "HypeNet");
  auto x = at::embedding(model->embed_tokens->weight, ids);  // [B, T, D]
  MixerInputs in = mixer_inputs(positions, x.scalar_type(), opt.training);
  in.cache = cache;
  in.step = step;
  CausalLMOutput out;
  HALO_CHECK(!(opt.capture_mixers && opt.layer_hook),
             "HypeNet forward: capture_mixers and a layer hook cannot be combined");
  if (opt.capture_mixers) {
    out.mixer_inputs.resize(L);
    out.mixer_outputs.resize(L);
  }
  for (size_t i = 0; i < L; ++i) {
    if (opt.layer_hook) {
      auto* layer_i = &layer(i);
      x = opt.layer_hook(i, [layer_i, in](const at::Tensor& h) { return layer_i->forward(h, in); },
                         x);
    } else {
      x = layer(i).forward(x, in, opt.capture_mixers ? &out.mixer_inputs[i] : nullptr,
                           opt.capture_mixers ? &out.mixer_outputs[i] : nullptr);
    }
  }
  if (cache) cache->commit(*step);
  x = model->norm(x);
  if (opt.return_hidden) out.hidden = x;
  x = keep_logit_rows(x, opt.logits_to_keep, step);
  if (!opt.skip_logits) out.logits = ops::decode_linear(x, output_embedding(), {});
  return out;
}

}  // namespace halo::hypenet
