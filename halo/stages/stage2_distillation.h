// Stage 2, end-to-end distillation (HALO_NOTES 3): the hybrid student (attention layers from
// the teacher, RNN layers from stage 1, mixers chosen by the selection stage) learns the
// teacher's next-token distribution: token-level KL(teacher || student) over the full
// vocabulary, computed in chunks of loss_chunk_tokens tokens (halo/losses/chunked_kl.h), so no
// [tokens, vocab] float32 copy beyond one chunk exists. All student weights train.
#pragma once

#include "halo/stages/stage_context.h"
#include "halo/stages/student_task.h"
#include "hypenet/qwen3_model.h"

#include <memory>

namespace halo::stages {

// The stage-2 TrainTask of `stage`: the frozen teacher moved to `device` in
// frozen_teacher_dtype (bfloat16 for bfloat16 stages on CUDA and for bfloat16-pure stages,
// float32 otherwise), the student in trained_parameter_dtype (bfloat16 for bfloat16-pure,
// float32 otherwise), trained on the KL in chunks of stage.loss_chunk_tokens. Shared by
// run_stage2 and `halo-distill bench stage2`.
std::unique_ptr<StudentTask> make_distillation_task(hypenet::HypeNetForCausalLM student,
                                                    hypenet::Qwen3ForCausalLM teacher,
                                                    const config::StageConfig& stage,
                                                    c10::Device device);

StageOutput run_stage2(const StageContext& ctx);

}  // namespace halo::stages
