// The pipeline runner: runs the stages of a PipelineConfig in order (or one of them), wiring
// each stage's output into the next one's inputs, skipping stages whose done.json matches the
// current config (so `run` again resumes where it stopped), and resuming an interrupted
// training stage from its newest complete checkpoint. After the run: RUN/summary.md. A run
// folder of another configuration is refused before anything in it is written (run_identity.h).
// Before the first step every input the stages will need is checked (preflight.h): shard
// checksums, teacher, tokenizer, disk, device.
// Data parallel (RunOptions.sync): every rank trains; rank 0 alone writes the stage outputs and
// runs the quality gates, and the other ranks wait for it after each stage (the wait after a
// gate is bounded by quality_gate.timeout_s instead of the collective timeout).
#pragma once

#include "halo/config/pipeline_config.h"
#include "halo/train/gradient_sync.h"

#include <optional>
#include <string>

namespace halo::stages {

struct RunOptions {
  std::optional<std::string> only_stage;  // run just this stage (its inputs must exist)
  int rank = 0, world_size = 1;
  train::GradientSync* sync = nullptr;
};

// Returns true when every requested stage finished, false when a signal stopped training (a
// checkpoint was written; running again resumes).
bool run_pipeline(const config::PipelineConfig& pipeline, const RunOptions& options = {});

}  // namespace halo::stages
