// AdamW with two parameter groups: weight decay on 2-D weights (matrices, embeddings) only,
// none on norms, biases and other 1-D tensors (HALO_NOTES 3; the usual LLM recipe).
#pragma once

#include "halo/config/train_sections.h"

#include <torch/optim/adamw.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace halo::train {

// Group 0: 2-D parameters with optimizer.weight_decay; group 1: the rest with none. Empty
// groups are left out. Errors when `params` is empty. The optimizer is a FusedAdamW that uses
// the fused multi-tensor kernel when every parameter is a CUDA tensor (fused_adamw.h).
std::unique_ptr<torch::optim::AdamW> make_adamw(
    const std::vector<std::pair<std::string, at::Tensor>>& params,
    const config::OptimizerConfig& optimizer);

// Sets the learning rate of every group.
void set_learning_rate(torch::optim::Optimizer& optimizer, double lr);

}  // namespace halo::train
