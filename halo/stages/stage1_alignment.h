// Stage 1, hidden-state alignment (HALO_NOTES 3): the teacher runs frozen; in every layer the
// student's RNN mixer gets the teacher's (detached) mixer input and regresses the teacher
// mixer's output. The loss of a token is the mean over layers of its "mse" (mean over D of the
// squared error) or "l2norm" (||diff|| / sqrt(D)); the trainer's loss is its token mean (every
// position counts). Only the student mixers (model.layers.*.self_attn.*) train.
#pragma once

#include "halo/stages/stage_context.h"

namespace halo::stages {

StageOutput run_stage1(const StageContext& ctx);

// The alignment loss of one layer summed over its B*T tokens: student, target [B, T, D];
// `kind` mse or l2norm (per token, as above). A float32 scalar.
at::Tensor alignment_loss_sum(const at::Tensor& student, const at::Tensor& target,
                              config::Loss kind);

}  // namespace halo::stages
