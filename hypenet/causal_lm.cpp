// Implementation of causal_lm.h.
#include "hypenet/causal_lm.h"

#include "common/error.h"
#include "hypenet/module_io.h"

namespace halo::hypenet {

CausalLMOutput CausalLM::forward(const at::Tensor& ids, const ForwardOptions& options,
                                 HybridCache* cache, const CacheStep* step) {
  return qwen3 ? qwen3->forward(ids, options, cache, step)
               : student->forward(ids, options, cache, step);
}

CacheLayout CausalLM::cache_layout() const {
  return hypenet ? CacheLayout::of(*hypenet) : CacheLayout::of(base);
}

at::Tensor CausalLM::output_embedding() const {
  if (qwen3) return qwen3->output_embedding();
  HALO_CHECK(student, "CausalLM: no model loaded");
  return student->output_embedding();
}

CausalLM load_causal_lm(const std::string& dir, at::ScalarType dtype, c10::Device device) {
  CausalLM m;
  m.model_type = read_model_type(dir);
  if (m.model_type == "qwen3") {
    m.qwen3 = load_qwen3(dir, dtype, device);
    m.base = m.qwen3->config();
  } else if (m.model_type == "hypenet") {
    m.student = load_hypenet(dir, dtype, device);
    m.hypenet = m.student->config();
    m.base = m.hypenet->base;
  } else {
    HALO_FAIL(dir, "/config.json: key 'model_type' is \"", m.model_type,
              "\"; expected \"qwen3\" (teacher) or \"hypenet\" (student)");
  }
  return m;
}

}  // namespace halo::hypenet
