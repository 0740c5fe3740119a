// Implementation of hypenet_checkpoint.h.
#include "hypenet/hypenet_checkpoint.h"

#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"

#include <torch/utils.h>

#include <filesystem>

namespace halo::hypenet {

HypeNetForCausalLM load_hypenet(const std::string& dir, at::ScalarType dtype, c10::Device device) {
  auto config = HypeNetConfig::from_json_file((std::filesystem::path(dir) / "config.json").string());
  torch::NoGradGuard no_grad;
  HypeNetForCausalLM model(config);
  load_module_parameters(*model, dir, dtype, device, config.base.tie_word_embeddings);
  model->to(device, dtype);
  model->eval();
  return model;
}

void save_hypenet(const std::string& dir, HypeNetForCausalLM& model, at::ScalarType storage_dtype,
                  uint64_t max_shard_bytes) {
  auto config = model->config();
  config.base.dtype = dtype_name(storage_dtype);
  save_module(dir, *model, config.to_json(), storage_dtype, max_shard_bytes);
}

}  // namespace halo::hypenet
