// Qwen3 teacher <-> Hugging Face model folder (config.json + safetensors, single or sharded),
// and the random initialisation used by `init-teacher`.
#pragma once

#include "hypenet/qwen3_model.h"

#include <c10/core/Device.h>

#include <string>

namespace halo::hypenet {

// Loads `dir`: config.json, then every parameter by its HF name, converted to `dtype` and moved
// to `device`. Errors name the file and tensor: missing tensors, shape mismatches against the
// config, tensors the model does not know (a tied checkpoint may still carry lm_head.weight).
Qwen3ForCausalLM load_qwen3(const std::string& dir, at::ScalarType dtype, c10::Device device);

// Writes config.json (with "dtype" = storage dtype) and the parameters in `storage_dtype`,
// sharded when larger than `max_shard_bytes` (0 = one file). The folder is created if needed.
void save_qwen3(const std::string& dir, Qwen3ForCausalLM& model, at::ScalarType storage_dtype,
                uint64_t max_shard_bytes);

// HF's initialisation: normal(0, initializer_range) for projections and the embedding, biases
// zero, RMSNorm weights one. Deterministic for a given seed.
void init_qwen3_random(Qwen3ForCausalLM& model, uint64_t seed);

// "float32" / "bfloat16" / "float16" <-> ScalarType; errors name `what` (flag or key).
at::ScalarType parse_dtype(const std::string& name, const std::string& what);
std::string dtype_name(at::ScalarType type);

}  // namespace halo::hypenet
