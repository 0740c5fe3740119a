// Implementation of single_swap.h.
#include "halo/selection/single_swap.h"

#include "common/error.h"

#include <torch/utils.h>

namespace halo::selection {

using hypenet::MixerType;

hypenet::HypeNetConfig single_swap_config(const hypenet::HypeNetConfig& stage1, int64_t layer) {
  auto c = stage1;
  const auto L = static_cast<int64_t>(c.mixer_types.size());
  HALO_CHECK(layer >= 0 && layer < L, "single-swap model: layer ", layer,
             " is out of range; the model has ", L, " layers");
  c.mixer_types.assign(L, MixerType::kAttention);
  c.mixer_types[layer] = MixerType::kLightning;
  c.attn_use_rope = true;  // the teacher's attention: RoPE, no gate, no logit scaling
  c.attn_use_output_gate = false;
  c.attn_logits_scaling_a.reset();
  c.attn_logits_scaling_const.reset();
  return c;
}

hypenet::HypeNetForCausalLM build_single_swap(hypenet::Qwen3ForCausalLM& teacher,
                                              hypenet::HypeNetForCausalLM& stage1, int64_t layer) {
  const auto& s1 = stage1->config();
  const auto& t = teacher->config();
  HALO_CHECK(s1.base.num_hidden_layers == t.num_hidden_layers &&
                 s1.base.hidden_size == t.hidden_size && s1.base.vocab_size == t.vocab_size &&
                 s1.base.tie_word_embeddings == t.tie_word_embeddings,
             "single-swap model: the stage-1 student (", s1.base.num_hidden_layers,
             " layers, hidden ", s1.base.hidden_size, ", vocab ", s1.base.vocab_size,
             ") does not match the teacher (", t.num_hidden_layers, ", ", t.hidden_size, ", ",
             t.vocab_size, ")");
  const auto config = single_swap_config(s1, layer);
  HALO_CHECK(s1.mixer_types[layer] == MixerType::kLightning, "single-swap model: layer ", layer,
             " of the stage-1 student is attention; stage 1 trains a Lightning mixer in every "
             "layer. HINT: pass the stage-1 (all lightning-attn) student");
  torch::NoGradGuard no_grad;
  hypenet::HypeNetForCausalLM model(config);
  const auto reference = teacher->output_embedding();  // dtype and device of the result
  auto tp = teacher->named_parameters();
  auto sp = stage1->named_parameters();
  const std::string swapped = "model.layers." + std::to_string(layer) + ".self_attn.";
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    const bool from_student = name.rfind(swapped, 0) == 0;
    const auto* src = from_student ? sp.find(name) : tp.find(name);
    HALO_CHECK(src, "single-swap model: ", from_student ? "the stage-1 student" : "the teacher",
               " has no parameter ", name);
    HALO_CHECK(src->sizes() == item.value().sizes(), "single-swap model: ", name, " has shape ",
               src->sizes(), " in the source but ", item.value().sizes(), " in the model");
    item.value().set_data(src->to(reference.device(), reference.scalar_type()));
  }
  model->eval();
  return model;
}

}  // namespace halo::selection
