// Implementation of qwen3_checkpoint.h.
#include "hypenet/qwen3_checkpoint.h"

#include "halo/common/error.h"
#include "hypenet/checkpoint_files.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/nn/utils/convert_parameters.h>
#include <torch/utils.h>

#include <filesystem>
#include <fstream>

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
  const std::string config_path = (std::filesystem::path(dir) / "config.json").string();
  auto config = Qwen3Config::from_json_file(config_path);
  CheckpointFiles files(dir);
  torch::NoGradGuard no_grad;
  Qwen3ForCausalLM model(config);
  for (auto& item : model->named_parameters()) {
    auto& param = item.value();
    auto t = files.load(item.key(), dtype, param.sizes().vec());
    param.set_data(t.to(device));
  }
  // A tied checkpoint may still store lm_head.weight (some exporters keep it): accept it only
  // when it equals the embedding, so a silently different head never goes unnoticed.
  if (config.tie_word_embeddings && files.contains("lm_head.weight")) {
    auto head = files.load("lm_head.weight", at::kFloat, {config.vocab_size, config.hidden_size});
    auto embed = model->model->embed_tokens->weight.to(at::kFloat).cpu();
    HALO_CHECK(at::equal(head, embed), files.file_of("lm_head.weight"),
               ": tensor 'lm_head.weight' differs from 'model.embed_tokens.weight' but ",
               config_path, " sets tie_word_embeddings=true");
  }
  files.check_all_consumed();
  model->to(device, dtype);
  model->eval();
  return model;
}

void save_qwen3(const std::string& dir, Qwen3ForCausalLM& model, at::ScalarType storage_dtype,
                uint64_t max_shard_bytes) {
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : model->named_parameters()) {
    tensors.emplace_back(item.key(), item.value().detach().to(at::kCPU, storage_dtype).contiguous());
  }
  write_checkpoint_files(dir, tensors, max_shard_bytes);
  auto config = model->config();
  config.dtype = dtype_name(storage_dtype);
  const auto path = std::filesystem::path(dir) / "config.json";
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    HALO_CHECK(out.good(), tmp, ": cannot open for writing");
    out << config.to_json().dump(2) << "\n";
    HALO_CHECK(out.good(), tmp, ": write failed");
  }
  std::filesystem::rename(tmp, path);
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
