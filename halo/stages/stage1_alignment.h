// Stage 1, hidden-state alignment (HALO_NOTES 3): the teacher runs frozen; in every layer the
// student's RNN mixer gets the teacher's (detached) mixer input and regresses the teacher
// mixer's output. Loss over all layers at once: "mse" (mean over layers of the mean squared
// error) or "l2norm" (mean over layers and tokens of ||diff|| / sqrt(D)). Only the student
// mixers (model.layers.*.self_attn.*) train.
#pragma once

#include "halo/stages/stage_context.h"

namespace halo::stages {

StageOutput run_stage1(const StageContext& ctx);

// The alignment loss of one layer: student, target [B, T, D]; `kind` "mse" or "l2norm".
at::Tensor alignment_loss(const at::Tensor& student, const at::Tensor& target,
                          const std::string& kind);

}  // namespace halo::stages
