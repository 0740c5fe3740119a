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

// The stage-2 TrainTask: the frozen teacher (moved to `device` in `teacher_dtype`: bfloat16 for
// bfloat16 stages on CUDA, as the issue asks, float32 otherwise) and the student trained on the
// chunked KL. Shared by run_stage2 and `halo-distill bench stage2`.
std::unique_ptr<StudentTask> make_distillation_task(hypenet::HypeNetForCausalLM student,
                                                    hypenet::Qwen3ForCausalLM teacher,
                                                    int64_t chunk_tokens, c10::Device device,
                                                    at::ScalarType teacher_dtype);

StageOutput run_stage2(const StageContext& ctx);

}  // namespace halo::stages
