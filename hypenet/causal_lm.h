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

  CausalLMOutput forward(const at::Tensor& ids, const ForwardOptions& options = {});
};

// Errors name dir/config.json when model_type is neither "qwen3" nor "hypenet".
CausalLM load_causal_lm(const std::string& dir, at::ScalarType dtype, c10::Device device);

}  // namespace halo::hypenet
