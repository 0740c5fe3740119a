// Implementation of qwen3_checkpoint.h.
#include "hypenet/qwen3_checkpoint.h"

#include "halo/common/error.h"
#include "hypenet/module_io.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/convert_parameters.h>
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
  torch::NoGradGuard no_grad;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const double std = model->config().initializer_range;
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    auto& p = item.value();
    auto cpu = at::empty(p.sizes(), p.options().device(at::kCPU).dtype(at::kFloat));
    if (name.size() >= 11 && name.compare(name.size() - 11, 11, "norm.weight") == 0) {
      cpu.fill_(1.0);
    } else if (name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0) {
      cpu.zero_();
    } else {
      cpu.normal_(0.0, std, gen);
    }
    p.copy_(cpu);
  }
}

}  // namespace halo::hypenet
