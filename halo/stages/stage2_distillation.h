// Stage 2, end-to-end distillation (HALO_NOTES 3): the hybrid student (attention layers from
// the teacher, RNN layers from stage 1, mixers chosen by the selection stage) learns the
// teacher's next-token distribution: token-level KL(teacher || student) over the full
// vocabulary, computed in chunks of loss_chunk_tokens tokens (halo/losses/chunked_kl.h), so no
// [tokens, vocab] float32 copy beyond one chunk exists. All student weights train.
#pragma once

#include "halo/stages/stage_context.h"

namespace halo::stages {

StageOutput run_stage2(const StageContext& ctx);

}  // namespace halo::stages
