// HypeNet <-> Hugging Face model folder in the authors' layout (config.json with model_type
// "hypenet", safetensors named model.layers.{i}.self_attn.{q,k,v,o,z}_proj / q_norm / k_norm /
// o_norm / o_gate ...), single file or sharded.
#pragma once

#include "hypenet/hypenet_model.h"

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace halo::hypenet {

HypeNetForCausalLM load_hypenet(const std::string& dir, at::ScalarType dtype, c10::Device device);
void save_hypenet(const std::string& dir, HypeNetForCausalLM& model, at::ScalarType storage_dtype,
                  uint64_t max_shard_bytes);

// The files of the authors' HypeNet code (thunlp/hybrid-linear-attention, halo/modeling/hypenet/)
// that transformers needs beside the weights to load a folder with trust_remote_code: the modules
// auto_map names and those they import.
extern const std::vector<std::string> kAuthorsModelingFiles;

// config.json for the authors' loader: to_json() with the storage dtype as "dtype" and as
// "torch_dtype" (transformers 4.57, their tested version, reads the latter), and "auto_map"
// naming their classes (configuration_hypenet.HypeNetConfig, modeling_hypenet.HypeNetModel,
// modeling_hypenet.HypeNetForCausalLM), as their build_hf_ckpt.py's register_for_auto_class
// writes it.
nlohmann::json hypenet_config_for_authors(const HypeNetConfig& config,
                                          at::ScalarType storage_dtype);

// save_hypenet with hypenet_config_for_authors as config.json: what `export` and `convert` write.
void save_hypenet_for_authors(const std::string& dir, HypeNetForCausalLM& model,
                              at::ScalarType storage_dtype, uint64_t max_shard_bytes);

// How to load `dir` (a folder holding `config`) with the authors' code: lines of text, each
// ending in a newline; also says what attn_logits_scaling does there.
std::string authors_loading_note(const std::string& dir, const HypeNetConfig& config);

}  // namespace halo::hypenet
