// HypeNet <-> Hugging Face model folder in the authors' layout (config.json with model_type
// "hypenet", safetensors named model.layers.{i}.self_attn.{q,k,v,o,z}_proj / q_norm / k_norm /
// o_norm / o_gate ...), single file or sharded.
#pragma once

#include "hypenet/hypenet_model.h"

#include <c10/core/Device.h>

namespace halo::hypenet {

HypeNetForCausalLM load_hypenet(const std::string& dir, at::ScalarType dtype, c10::Device device);
void save_hypenet(const std::string& dir, HypeNetForCausalLM& model, at::ScalarType storage_dtype,
                  uint64_t max_shard_bytes);

}  // namespace halo::hypenet
