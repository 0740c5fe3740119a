// Stage 3, long-context finetuning (HALO_NOTES 3): cross-entropy on longer sequences, no
// teacher, starting from the stage-2 student; the stage's `curriculum` (if any) grows the
// sequence length at constant tokens per step. All student weights train.
#pragma once

#include "halo/stages/stage_context.h"
#include "hypenet/hypenet_model.h"

namespace halo::stages {

StageOutput run_stage3(const StageContext& ctx);

// The student's final-normed hidden states [B, T, D] for ids [B, T] (training mode), each
// decoder layer under activation checkpointing (halo/train/activation_checkpoint.h).
at::Tensor hypenet_hidden_checkpointed(hypenet::HypeNetForCausalLM& model, const at::Tensor& ids);

}  // namespace halo::stages
