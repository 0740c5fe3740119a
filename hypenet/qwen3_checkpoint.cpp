// Implementation of qwen3_checkpoint.h.
#include "hypenet/qwen3_checkpoint.h"

#include "common/error.h"
#include "hypenet/module_io.h"
#include "hypenet/parameter_init.h"

#include <torch/utils.h>

#include <filesystem>

namespace halo::hypenet {

at::ScalarType parse_dtype(const std::string& name, const std::string& what) {
  if (name == "float32" || name == "fp32") return at::kFloat;
  if (name == "bfloat16" || name == "bf16") return at::kBFloat16;
  if (name == "float16" || name == "fp16") return at::kHalf;
  HALO_FAIL(what, ": unknown dtype \"", name, "\"; expected float32, bfloat16 or float16");
}

std::string dtype_name(at::ScalarType type) {
  switch (type) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: HALO_FAIL("unsupported model dtype ", type);
  }
}

Qwen3ForCausalLM load_qwen3(const std::string& dir, at::ScalarType dtype, c10::Device device) {
  auto config = Qwen3Config::from_json_file((std::filesystem::path(dir) / "config.json").string());
  torch::NoGradGuard no_grad;
  Qwen3ForCausalLM model(config);
  load_module_parameters(*model, dir, dtype, device, config.tie_word_embeddings);
  model->to(device, dtype);
  model->eval();
  return model;
}

void save_qwen3(const std::string& dir, Qwen3ForCausalLM& model, at::ScalarType storage_dtype,
                uint64_t max_shard_bytes) {
  auto config = model->config();
  config.dtype = dtype_name(storage_dtype);
  save_module(dir, *model, config.to_json(), storage_dtype, max_shard_bytes);
}

void init_qwen3_random(Qwen3ForCausalLM& model, uint64_t seed) {
  init_parameters_like_hf(*model, model->config().initializer_range, seed);
}

}  // namespace halo::hypenet
