// Implementation of hypenet_model.h.
#include "hypenet/hypenet_model.h"

#include "halo/common/error.h"

#include <cmath>

namespace halo::hypenet {

HypeNetDecoderLayerImpl::HypeNetDecoderLayerImpl(const HypeNetConfig& c, MixerType mixer)
    : mixer_type(mixer),
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

at::Tensor HypeNetDecoderLayerImpl::mixer_forward(const at::Tensor& h, const RotaryTables& rope,
                                                  const at::Tensor& query_scale,
                                                  LightningState* state) {
  if (mixer_type == MixerType::kAttention) {
    return attention(h, AttentionInputs{attn_use_rope_ ? &rope : nullptr, query_scale});
  }
  return lightning(h, lightning_use_rope_ ? &rope : nullptr, state);
}

at::Tensor HypeNetDecoderLayerImpl::forward(const at::Tensor& x, const RotaryTables& rope,
                                            const at::Tensor& query_scale, LightningState* state,
                                            at::Tensor* mixer_in, at::Tensor* mixer_out) {
  auto h = input_layernorm(x);
  auto a = mixer_forward(h, rope, query_scale, state);
  if (mixer_in) *mixer_in = h;
  if (mixer_out) *mixer_out = a;
  auto y = x + a;
  return y + mlp(post_attention_layernorm(y));
}

HypeNetBodyImpl::HypeNetBodyImpl(const HypeNetConfig& c) {
  embed_tokens =
      register_module("embed_tokens", torch::nn::Embedding(c.base.vocab_size, c.base.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (auto m : c.mixer_types) layers->push_back(HypeNetDecoderLayer(c, m));
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

CausalLMOutput HypeNetForCausalLMImpl::forward(const at::Tensor& ids, const ForwardOptions& opt,
                                               std::vector<LightningState>* states) {
  const auto& b = config_.base;
  HALO_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong,
             "HypeNet forward: ids must be int64 [B, T], got ", ids.sizes(), " ",
             ids.scalar_type());
  HALO_CHECK(ids.numel() == 0 ||
                 (ids.min().item<int64_t>() >= 0 && ids.max().item<int64_t>() < b.vocab_size),
             "HypeNet forward: token ids must lie in [0, ", b.vocab_size, ")");
  const size_t L = model->layers->size();
  HALO_CHECK(!states || states->size() == L, "HypeNet forward: states must hold ", L,
             " entries, got ", states ? states->size() : 0);
  HALO_CHECK(!states || config_.num_lightning_layers() == static_cast<int64_t>(L),
             "HypeNet forward: carrying state across calls needs every layer to be "
             "lightning-attn (attention layers have no KV cache yet)");
  const int64_t T = ids.size(1);
  auto positions = opt.positions.defined()
                       ? opt.positions.to(ids.device())
                       : at::arange(T, at::TensorOptions().dtype(at::kLong).device(ids.device()));
  auto x = at::embedding(model->embed_tokens->weight, ids);  // [B, T, D]
  auto rope = rotary_tables(positions, b.head_dim, b.rope_theta, x.scalar_type());
  at::Tensor query_scale;  // HyPE's inference-time logit scale for the attention layers
  if (!opt.training && config_.attn_logits_scaling_a) {
    const double a = *config_.attn_logits_scaling_a;
    query_scale = at::log(positions.to(at::kFloat) + a) / std::log(a);  // [T] or [B, T]
  } else if (!opt.training && config_.attn_logits_scaling_const) {
    query_scale = at::full(positions.sizes(), *config_.attn_logits_scaling_const,
                           positions.options().dtype(at::kFloat));
  }
  CausalLMOutput out;
  if (opt.capture_mixers) {
    out.mixer_inputs.resize(L);
    out.mixer_outputs.resize(L);
  }
  for (size_t i = 0; i < L; ++i) {
    x = layer(i).forward(x, rope, query_scale, states ? &(*states)[i] : nullptr,
                         opt.capture_mixers ? &out.mixer_inputs[i] : nullptr,
                         opt.capture_mixers ? &out.mixer_outputs[i] : nullptr);
  }
  x = model->norm(x);
  if (opt.return_hidden) out.hidden = x;
  if (opt.logits_to_keep > 0 && opt.logits_to_keep < T) {
    x = x.narrow(1, T - opt.logits_to_keep, opt.logits_to_keep);
  }
  if (!opt.skip_logits) out.logits = at::linear(x, output_embedding());
  return out;
}

}  // namespace halo::hypenet
