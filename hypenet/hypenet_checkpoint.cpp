// Implementation of hypenet_checkpoint.h.
#include "hypenet/hypenet_checkpoint.h"

#include "common/model_folder_files.h"
#include "hypenet/module_io.h"
#include "hypenet/qwen3_checkpoint.h"

#include <torch/utils.h>

#include <filesystem>
#include <sstream>

namespace halo::hypenet {

HypeNetForCausalLM load_hypenet(const std::string& dir, at::ScalarType dtype, c10::Device device) {
  auto config =
      HypeNetConfig::from_json_file((std::filesystem::path(dir) / "config.json").string());
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

const std::vector<std::string> kAuthorsModelingFiles = {"configuration_hypenet.py",
                                                        "modeling_hypenet.py", "modeling_qwen3.py",
                                                        "lightning_attn.py", "cache.py"};

nlohmann::json hypenet_config_for_authors(const HypeNetConfig& config,
                                          at::ScalarType storage_dtype) {
  auto c = config;
  c.base.dtype = dtype_name(storage_dtype);
  nlohmann::json j = c.to_json();
  j["torch_dtype"] = c.base.dtype;
  j["rope_scaling"] = nullptr;  // as their configs: only default RoPE (rope_parameters says so too)
  j["auto_map"] = {{"AutoConfig", "configuration_hypenet.HypeNetConfig"},
                   {"AutoModel", "modeling_hypenet.HypeNetModel"},
                   {"AutoModelForCausalLM", "modeling_hypenet.HypeNetForCausalLM"}};
  return j;
}

void save_hypenet_for_authors(const std::string& dir, HypeNetForCausalLM& model,
                              at::ScalarType storage_dtype, uint64_t max_shard_bytes) {
  save_module(dir, *model, hypenet_config_for_authors(model->config(), storage_dtype),
              storage_dtype, max_shard_bytes);
}

std::string authors_loading_note(const std::string& dir, const HypeNetConfig& config) {
  std::ostringstream os;
  std::string files;
  for (const auto& f : kAuthorsModelingFiles) {
    files += (files.empty() ? "" : ",") + f.substr(0, f.size() - 3);
  }
  os << "load it with the authors' HypeNet code (github.com/thunlp/hybrid-linear-attention; "
        "their halo/requirements.txt: transformers 4.57 as they tested it (5.x does not run "
        "their code unchanged), flash-linear-attention, flash-attn, einops, cut-cross-entropy): "
        "copy their modeling files in, then\n"
     << "  cp hybrid-linear-attention/halo/modeling/hypenet/{" << files << "}.py " << dir << "/\n"
     << "  python3 -c \"import torch; from transformers import AutoModelForCausalLM; "
        "m = AutoModelForCausalLM.from_pretrained('"
     << dir << "', trust_remote_code=True, dtype=torch.bfloat16, device_map='cuda')\"\n";
  if (!find_model_tokenizer(dir).empty() &&
      std::filesystem::exists(std::filesystem::path(dir) / "tokenizer.json")) {
    os << "  tokenizer: AutoTokenizer.from_pretrained('" << dir << "')\n";
  }
  if (config.attn_logits_scaling_a) {
    os << "attn_logits_scaling \"hype " << *config.attn_logits_scaling_a
       << "\": the authors' inference setting (HyPE's log(t + a) / log(a) query scale); their "
          "code applies it in training too, so set it to null before training this folder "
          "with their code\n";
  } else {
    os << "attn_logits_scaling null: no HyPE query scale; the authors' inference setting is "
          "\"hype 500\" for HypeNet-2B (--attn-logits-scaling 500)\n";
  }
  return os.str();
}

}  // namespace halo::hypenet
