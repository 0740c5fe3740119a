// Qwen3Config: the architecture of a Qwen3-style teacher, read from and written to a Hugging
// Face `config.json` (transformers 4.x `rope_theta` and 5.x `rope_parameters` both accepted).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace halo::hypenet {

struct Qwen3Config {
  int64_t vocab_size = 0;               // V
  int64_t hidden_size = 0;              // D
  int64_t intermediate_size = 0;        // MLP width
  int64_t num_hidden_layers = 0;        // L
  int64_t num_attention_heads = 0;      // Hq
  int64_t num_key_value_heads = 0;      // Hkv (Hq % Hkv == 0)
  int64_t head_dim = 0;                 // may differ from D / Hq
  double rms_norm_eps = 1e-6;
  double rope_theta = 1e6;              // Qwen3 ships 1e6
  bool tie_word_embeddings = false;     // lm_head shares the embedding matrix
  bool attention_bias = false;          // q/k/v/o projections carry biases
  int64_t max_position_embeddings = 32768;
  double initializer_range = 0.02;      // std of the random init (init-teacher)
  std::string dtype = "bfloat16";       // dtype the checkpoint is stored in
  nlohmann::json extra;                 // keys we do not interpret, written back unchanged

  // Reads `path` (a config.json); errors name the file and key (missing, wrong type,
  // inconsistent such as heads not divisible by kv heads, unsupported features).
  static Qwen3Config from_json_file(const std::string& path);
  // `model_type` is the value the file must carry ("hypenet" when HypeNetConfig reads its base).
  static Qwen3Config from_json(const nlohmann::json& j, const std::string& source,
                               const std::string& model_type = "qwen3");
  nlohmann::json to_json() const;

  // Checks value ranges and consistency; `source` names the file in messages.
  void validate(const std::string& source) const;

  int64_t num_parameters() const;  // total parameter count (embedding counted once if tied)
};

}  // namespace halo::hypenet
