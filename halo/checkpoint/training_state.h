// The non-model state of a training checkpoint (step-N/): meta.json (magic, format version,
// stage, step, world size, config hash, loader cursor, the resolved config), optimizer.pt
// (AdamW moments and step counts, torch::serialize archive) and rng.pt (CPU generator state,
// and each CUDA device's when CUDA is present). The model itself lives in step-N/model/ as a
// Hugging Face folder, so `export` and every tool read it directly.
#pragma once

#include "halo/checkpoint/checkpoint_meta.h"

#include <torch/optim/optimizer.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace halo::checkpoint {

// Writes meta.json, optimizer.pt and rng.pt into `dir`.
void save_training_state(const std::filesystem::path& dir, const CheckpointMeta& meta,
                         torch::optim::Optimizer& optimizer);
// Restores the optimizer and the RNG states saved by save_training_state.
void load_training_state(const std::filesystem::path& dir, torch::optim::Optimizer& optimizer);

}  // namespace halo::checkpoint
