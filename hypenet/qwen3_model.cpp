// Implementation of qwen3_model.h.
#include "hypenet/qwen3_model.h"

#include "common/error.h"
#include "hypenet/decoder_block.h"
#include "ops/decode_linear/decode_linear.h"

namespace halo::hypenet {

Qwen3DecoderLayerImpl::Qwen3DecoderLayerImpl(const Qwen3Config& c) {
  input_layernorm = register_module("input_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  self_attn = register_module("self_attn", Qwen3Attention(c));
  post_attention_layernorm =
      register_module("post_attention_layernorm", RMSNorm(c.hidden_size, c.rms_norm_eps));
  mlp = register_module("mlp", SwiGLUMLP(c.hidden_size, c.intermediate_size));
}

at::Tensor Qwen3DecoderLayerImpl::forward(const at::Tensor& x, const AttentionInputs& in,
                                          at::Tensor* mixer_in, at::Tensor* mixer_out) {
  return pre_norm_block(
      x, input_layernorm, [&](const at::Tensor& h) { return self_attn(h, in); },
      post_attention_layernorm, mlp, mixer_in, mixer_out);
}

Qwen3BodyImpl::Qwen3BodyImpl(const Qwen3Config& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(Qwen3DecoderLayer(c));
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps));
}

Qwen3ForCausalLMImpl::Qwen3ForCausalLMImpl(const Qwen3Config& c) : config_(c) {
  model = register_module("model", Qwen3Body(c));
  if (!c.tie_word_embeddings) {
    lm_head = register_module(
        "lm_head", torch::nn::Linear(torch::nn::LinearOptions(c.hidden_size, c.vocab_size).bias(false)));
  }
}

at::Tensor Qwen3ForCausalLMImpl::output_embedding() const {
  return lm_head ? lm_head->weight : model->embed_tokens->weight;
}

CausalLMOutput Qwen3ForCausalLMImpl::forward(const at::Tensor& ids, const ForwardOptions& opt,
                                             HybridCache* cache, const CacheStep* step) {
  HALO_CHECK(ids.dim() == 2 && ids.scalar_type() == at::kLong,
             "Qwen3 forward: ids must be int64 [B, T], got ", ids.sizes(), " ", ids.scalar_type());
  const size_t L = model->layers->size();
  auto weight = model->embed_tokens->weight;
  // Token ids are checked where they enter, not here: see HypeNetForCausalLMImpl::forward.
  const auto positions = forward_positions(ids, opt, cache, step, L, "Qwen3");
  auto x = at::embedding(weight, ids);  // [B, T, D]
  auto rope = rotary_tables(positions, config_.head_dim, config_.rope_theta, x.scalar_type());

  CausalLMOutput out;
  HALO_CHECK(!(opt.layer_hook && (opt.capture_mixers || opt.capture_attention_entropy)),
             "Qwen3 forward: captures and a layer hook cannot be combined");
  if (opt.capture_mixers) {
    out.mixer_inputs.resize(L);
    out.mixer_outputs.resize(L);
  }
  if (opt.capture_attention_entropy) out.attention_entropy.resize(L);
  for (size_t i = 0; i < L; ++i) {
    auto* layer = model->layers[i]->as<Qwen3DecoderLayerImpl>();
    if (opt.layer_hook) {
      x = opt.layer_hook(
          i, [layer, rope](const at::Tensor& h) { return layer->forward(h, {&rope, {}}); }, x);
      continue;
    }
    AttentionInputs attn_in{&rope, {}};
    attn_in.entropy_out = opt.capture_attention_entropy ? &out.attention_entropy[i] : nullptr;
    if (cache) {
      attn_in.cache = &cache->kv(i);
      attn_in.step = step;
    }
    x = layer->forward(x, attn_in, opt.capture_mixers ? &out.mixer_inputs[i] : nullptr,
                       opt.capture_mixers ? &out.mixer_outputs[i] : nullptr);
  }
  if (cache) cache->commit(*step);
  x = model->norm(x);
  if (opt.return_hidden) out.hidden = x;
  x = keep_logit_rows(x, opt.logits_to_keep, step);
  if (!opt.skip_logits) out.logits = ops::decode_linear(x, output_embedding(), {});  // [B, T', V]
  return out;
}

}  // namespace halo::hypenet
