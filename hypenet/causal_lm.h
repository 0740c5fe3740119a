// A loaded causal LM of either kind the toolkit reads (a Qwen3 teacher or a HypeNet student),
// chosen by config.json's model_type, behind one forward: what the CLI's forward, inspect and
// bench commands work with.
#pragma once

#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/qwen3_checkpoint.h"

#include <optional>

namespace halo::hypenet {

struct CausalLM {
  std::string model_type;                // "qwen3" or "hypenet"
  Qwen3Config base;                      // sizes shared by both kinds
  std::optional<HypeNetConfig> hypenet;  // set for HypeNet
  Qwen3ForCausalLM qwen3{nullptr};
  HypeNetForCausalLM student{nullptr};

  // cache / step: inference on a HybridCache (hybrid_cache.h), as the models' forwards.
  CausalLMOutput forward(const at::Tensor& ids, const ForwardOptions& options = {},
                         HybridCache* cache = nullptr, const CacheStep* step = nullptr);
  // The layout of this model's cache (every layer attention for the teacher).
  CacheLayout cache_layout() const;
  // Device and dtype of the weights.
  at::Tensor output_embedding() const;
};

// Errors name dir/config.json when model_type is neither "qwen3" nor "hypenet".
CausalLM load_causal_lm(const std::string& dir, at::ScalarType dtype, c10::Device device);

}  // namespace halo::hypenet
