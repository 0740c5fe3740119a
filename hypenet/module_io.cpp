// Implementation of module_io.h.
#include "hypenet/module_io.h"

#include "common/error.h"
#include "hypenet/checkpoint_files.h"
#include "common/json_fields.h"

#include <torch/utils.h>

#include <filesystem>
#include <fstream>

namespace halo::hypenet {

void load_module_parameters(torch::nn::Module& module, const std::string& dir,
                            at::ScalarType dtype, c10::Device device, bool tied) {
  CheckpointFiles files(dir);
  torch::NoGradGuard no_grad;
  for (auto& item : module.named_parameters()) {
    auto& param = item.value();
    auto t = files.load(item.key(), dtype, param.sizes().vec());
    param.set_data(t.to(device));
  }
  auto params = module.named_parameters();
  if (tied && files.contains("lm_head.weight") && params.contains("model.embed_tokens.weight")) {
    auto embed = params["model.embed_tokens.weight"];
    auto head = files.load("lm_head.weight", at::kFloat, embed.sizes().vec());
    HALO_CHECK(at::equal(head, embed.to(at::kCPU, at::kFloat)), files.file_of("lm_head.weight"),
               ": tensor 'lm_head.weight' differs from 'model.embed_tokens.weight' but ", dir,
               "/config.json sets tie_word_embeddings=true");
  }
  files.check_all_consumed();
}

void save_module(const std::string& dir, const torch::nn::Module& module,
                 const nlohmann::json& config, at::ScalarType storage_dtype,
                 uint64_t max_shard_bytes) {
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  for (const auto& item : module.named_parameters()) {
    tensors.emplace_back(item.key(), item.value().detach().to(at::kCPU, storage_dtype).contiguous());
  }
  write_checkpoint_files(dir, tensors, max_shard_bytes);
  const auto path = (std::filesystem::path(dir) / "config.json").string();
  const auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp);
    HALO_CHECK(out.good(), tmp, ": cannot open for writing");
    out << config.dump(2) << "\n";
    out.flush();
    HALO_CHECK(out.good(), tmp, ": write failed (disk full?)");
  }
  std::filesystem::rename(tmp, path);
}

std::string read_model_type(const std::string& dir) {
  const std::string path = (std::filesystem::path(dir) / "config.json").string();
  HALO_CHECK(std::filesystem::is_directory(dir), dir,
             ": not a folder (expected a model folder with config.json)");
  auto j = read_json_file(path);
  return JsonFields(j, path).require_string("model_type");
}

}  // namespace halo::hypenet
