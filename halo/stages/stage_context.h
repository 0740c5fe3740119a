// What every stage function receives and returns. A stage is a function
// (stage config, input checkpoints) -> output checkpoint (HALO_NOTES 3); the pipeline runner
// (pipeline_runner.h) wires the output of one stage into the inputs of the next:
//   pretrain  -> RUN/<pretrain>/final          (the teacher, Qwen3 HF folder)
//   stage1    -> RUN/<stage1>/final            (all-RNN HypeNet whose mixers match the teacher)
//   selection -> RUN/<selection>/selection.json (+ report.md, report.json)
//   stage2    -> RUN/<stage2>/final            (the hybrid HypeNet)
//   stage3    -> RUN/<stage3>/final            (the long-context HypeNet)
// Each stage folder also holds checkpoints/step-N/, metrics.jsonl and, once the stage has
// finished, done.json (its summary, config hash and the resolved config the hash was taken of).
#pragma once

#include "halo/config/pipeline_config.h"
#include "halo/train/gradient_sync.h"
#include "halo/train/trainer.h"

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>

namespace halo::stages {

struct StageInputs {
  std::filesystem::path teacher;    // HF folder of the teacher (stage1, selection, stage2)
  std::filesystem::path student;    // HF folder of the previous student (selection, stage2, stage3)
  std::filesystem::path selection;  // selection.json (stage2)
};

struct StageContext {
  const config::PipelineConfig* pipeline = nullptr;
  size_t index = 0;  // the stage's position in pipeline->stages
  StageInputs inputs;
  c10::Device device = c10::kCPU;
  int rank = 0, world_size = 1;
  train::GradientSync* sync = nullptr;

  const config::StageConfig& stage() const { return pipeline->stages.at(index); }
  std::filesystem::path run_dir() const { return pipeline->run.out_dir; }
  std::filesystem::path stage_dir() const { return run_dir() / stage().name; }
  std::string hash() const { return pipeline->stage_hash(index); }
  // The trainer settings of a training stage (data seed = run.seed combined with stage.seed).
  train::TrainerSetup trainer_setup() const;
};

struct StageOutput {
  std::filesystem::path model;      // HF folder written by a training stage
  std::filesystem::path selection;  // selection.json of a selection stage
  bool interrupted = false;         // a signal stopped it (resumable)
  nlohmann::json summary;           // figures for the report (steps, losses, tokens/s, ...)
};

// RUN/<stage>/done.json of a finished stage with the same config hash, else nullopt; a done.json
// of another configuration is an error naming the keys that changed.
std::optional<nlohmann::json> read_done(const StageContext& ctx);
// read_done as every rank of a data-parallel run (ctx.sync) sees it: each rank reads done.json,
// then waits for all the others before going on, so no rank can have started the stage (and
// written done.json) before every rank has looked. Without the wait, a rank that looked late
// could find done.json of the stage the others were running and skip it: the selection stage
// has no collectives, so a fast rank finishes it alone; the two ranks then waited for each
// other at different points until the 600 s test timeout (CI, 2-core machine, 2026-12-06).
std::optional<nlohmann::json> read_done_on_all_ranks(const StageContext& ctx);
// The one writer of RUN/<stage>/done.json (rank 0): `out.summary` with the config hash, the
// resolved config the hash covers (to name changed keys later) and the output path. Written last,
// durably: a stage with done.json is finished.
void write_done(const StageContext& ctx, const StageOutput& out,
                const std::filesystem::path& output);
// After training: RUN/<stage>/final/ (hard links to the last checkpoint's model files) and
// done.json; returns the output.
StageOutput finish_training_stage(const StageContext& ctx, const train::TrainResult& result);

}  // namespace halo::stages
