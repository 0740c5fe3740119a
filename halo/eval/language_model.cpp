// Implementation of language_model.h.
#include "halo/eval/language_model.h"

#include "common/error.h"

namespace halo::eval {

hypenet::CausalLM causal_lm_of(hypenet::Qwen3ForCausalLM model) {
  HALO_CHECK(model, "causal_lm_of: the Qwen3 model is empty");
  hypenet::CausalLM m;
  m.model_type = "qwen3";
  m.base = model->config();
  m.qwen3 = std::move(model);
  return m;
}

hypenet::CausalLM causal_lm_of(hypenet::HypeNetForCausalLM model) {
  HALO_CHECK(model, "causal_lm_of: the HypeNet model is empty");
  hypenet::CausalLM m;
  m.model_type = "hypenet";
  m.hypenet = model->config();
  m.base = model->config().base;
  m.student = std::move(model);
  return m;
}

at::Tensor output_embedding(const hypenet::CausalLM& model) {
  if (model.qwen3) return model.qwen3->output_embedding();
  HALO_CHECK(model.student, "evaluation: the CausalLM holds no model");
  return model.student->output_embedding();
}

at::Tensor final_hidden(hypenet::CausalLM& model, const at::Tensor& ids,
                        const at::Tensor& positions) {
  hypenet::ForwardOptions opt;
  opt.return_hidden = true;
  opt.skip_logits = true;
  opt.positions = positions;
  const auto device = output_embedding(model).device();
  return model.forward(ids.to(device), opt).hidden;  // [B, T, D]
}

}  // namespace halo::eval
