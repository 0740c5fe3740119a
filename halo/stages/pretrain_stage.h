// Pretrain stage: a Qwen3-style teacher from scratch (architecture from stage.model_config,
// HF-style random init from the stage seed), next-token cross-entropy on the training split.
// For users without a downloadable teacher, and for the CPU demo.
#pragma once

#include "halo/stages/stage_context.h"

namespace halo::stages {

StageOutput run_pretrain_stage(const StageContext& ctx);

}  // namespace halo::stages
