// The training sections a stage config holds: optimizer (AdamW), learning-rate schedule,
// checkpointing and periodic evaluation. Each struct has defaults, one doc line per field, is
// built from YAML by from_yaml (which validates ranges with the file, line and key) and writes
// its resolved values with to_json (printed at start, stored in every checkpoint, hashed).
#pragma once

#include "halo/config/yaml_reader.h"

#include <nlohmann/json.hpp>

#include <string>

namespace halo::config {

// `optimizer:` AdamW (decoupled weight decay), weight decay applied to 2-D weights only.
struct OptimizerConfig {
  double lr = 1e-3;           // peak learning rate (after warmup)
  double beta1 = 0.9;         // betas[0]: first-moment decay
  double beta2 = 0.95;        // betas[1]: second-moment decay
  double eps = 1e-8;          // denominator epsilon
  double weight_decay = 0.0;  // decoupled decay on 2-D weights (matrices, embeddings) only

  static OptimizerConfig from_yaml(MapReader r);
  nlohmann::json to_json() const;
};

// `schedule:` learning rate as a function of the optimizer step s in [0, steps).
struct ScheduleConfig {
  std::string kind = "cosine";  // "cosine" | "wsd" (warmup-stable-decay) | "constant"
  int64_t warmup_steps = 0;     // linear ramp from lr/warmup_steps to lr over the first steps
  double min_lr = 0.0;          // cosine / wsd end value (<= optimizer.lr)
  double decay_fraction = 0.2;  // wsd: fraction of the steps spent in the final linear decay

  static ScheduleConfig from_yaml(MapReader r);
  nlohmann::json to_json() const;
};

// `checkpoint:` when step-N/ folders are written and how many are kept.
struct CheckpointConfig {
  int64_t every = 100;    // steps between checkpoints (the last step is always saved)
  int64_t keep_last = 2;  // complete checkpoints kept (older ones deleted)

  static CheckpointConfig from_yaml(MapReader r);
  nlohmann::json to_json() const;
};

// `eval:` periodic validation loss during training.
struct EvalConfig {
  int64_t every = 0;    // steps between validation runs (0 = only at the end of the stage)
  int64_t batches = 4;  // validation batches per run (each batch_size x seq_len tokens)

  static EvalConfig from_yaml(MapReader r);
  nlohmann::json to_json() const;
};

}  // namespace halo::config
