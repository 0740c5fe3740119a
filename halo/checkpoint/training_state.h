// The non-model state of a training checkpoint (step-N/): meta.json (magic, format version,
// stage, step, world size, config hash, loader cursor, the resolved config), optimizer.pt
// (AdamW moments and step counts, torch::serialize archive) and rng.pt (CPU generator state,
// and each CUDA device's when CUDA is present). The model itself lives in step-N/model/ as a
// Hugging Face folder, so `export` and every tool read it directly.
#pragma once

#include <torch/optim/optimizer.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace halo::checkpoint {

inline constexpr const char* kCheckpointMagic = "halo-distill-checkpoint";
inline constexpr int kCheckpointVersion = 1;

struct CheckpointMeta {
  std::string stage;             // stage name
  int64_t step = 0;              // optimizer steps done
  int world_size = 1;            // ranks that wrote it
  std::string config_hash;       // PipelineConfig::stage_hash of the writer
  nlohmann::json loader_cursor;  // data::LoaderCursor::to_json()
  nlohmann::json config;         // the resolved pipeline config (for humans)
  nlohmann::json extra;          // stage-specific counters (tokens seen, ...)
};

// Writes meta.json, optimizer.pt and rng.pt into `dir`.
void save_training_state(const std::filesystem::path& dir, const CheckpointMeta& meta,
                         torch::optim::Optimizer& optimizer);
// Reads dir/meta.json; errors name the file (missing, wrong magic or version).
CheckpointMeta read_checkpoint_meta(const std::filesystem::path& dir);
// Restores the optimizer and the RNG states saved by save_training_state.
void load_training_state(const std::filesystem::path& dir, torch::optim::Optimizer& optimizer);

}  // namespace halo::checkpoint
