// meta.json of a training checkpoint (step-N/meta.json): magic, format version, stage, step,
// world size, config hash, loader cursor, the resolved config. Reading it needs no LibTorch, so
// the fuzz target fuzz/fuzz_checkpoint_meta.cpp runs it under AddressSanitizer; the optimizer and
// RNG state beside it are in training_state.h.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace halo::checkpoint {

inline constexpr const char* kCheckpointMagic = "halo-distill-checkpoint";
inline constexpr int kCheckpointVersion = 1;
// A world size beyond this in meta.json is refused as corruption.
inline constexpr int64_t kMaxCheckpointWorldSize = 1 << 20;

struct CheckpointMeta {
  std::string stage;             // stage name
  int64_t step = 0;              // optimizer steps done
  int world_size = 1;            // ranks that wrote it
  std::string config_hash;       // PipelineConfig::stage_hash of the writer
  nlohmann::json loader_cursor;  // data::LoaderCursor::to_json()
  nlohmann::json config;         // the resolved pipeline config (for humans)
  nlohmann::json extra;          // stage-specific counters (tokens seen, ...)
};

// Parses `text`, the content of meta.json at `path`; errors name `path` and the key: invalid
// JSON (nesting limited by common/json_limits.h), wrong magic or version, a key of the wrong
// type, a negative step, a world size outside [1, kMaxCheckpointWorldSize].
CheckpointMeta parse_checkpoint_meta(const std::string& text, const std::string& path);
// Reads dir/meta.json; errors name the file (missing, and those of parse_checkpoint_meta).
CheckpointMeta read_checkpoint_meta(const std::filesystem::path& dir);

}  // namespace halo::checkpoint
