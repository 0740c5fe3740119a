// Parameters of a model module <-> a Hugging Face model folder. Module parameter names are the
// HF tensor names, so loading maps named_parameters() one to one onto safetensors entries.
#pragma once

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>
#include <torch/nn/module.h>

#include <string>

namespace halo::hypenet {

// Loads every parameter of `module` from `dir` (converted to dtype, moved to device) and checks
// that the folder holds nothing else. A checkpoint with `tied` heads may still store
// lm_head.weight: it is accepted only when equal to model.embed_tokens.weight.
void load_module_parameters(torch::nn::Module& module, const std::string& dir,
                            at::ScalarType dtype, c10::Device device, bool tied);

// Writes config.json (atomically) and every parameter in `storage_dtype`, sharded above
// `max_shard_bytes` (0 = one file). The folder is created if needed.
void save_module(const std::string& dir, const torch::nn::Module& module,
                 const nlohmann::json& config, at::ScalarType storage_dtype,
                 uint64_t max_shard_bytes);

// The "model_type" of dir/config.json (errors name the file).
std::string read_model_type(const std::string& dir);

}  // namespace halo::hypenet
