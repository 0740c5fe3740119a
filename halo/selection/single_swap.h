// The single-swap models of layer selection (HALO_NOTES 3 step 2): the teacher with only layer
// i's attention replaced by the stage-1 student's Lightning mixer of layer i. A HypeNet whose
// attention layers behave exactly like the teacher's (RoPE, no output gate, no logit scaling).
// Parameters are shared with the teacher and the student (set_data to the same tensors,
// converted only when dtype or device differ), so building one costs no weight copy: the
// result is for evaluation, not training.
#pragma once

#include "hypenet/hypenet_model.h"
#include "hypenet/qwen3_model.h"

namespace halo::selection {

// The config of the single-swap model: the stage-1 student's Lightning options, attention
// everywhere except `layer`, attention options equal to the teacher's attention.
hypenet::HypeNetConfig single_swap_config(const hypenet::HypeNetConfig& stage1, int64_t layer);

// teacher: the Qwen3 teacher; stage1: the stage-1 HypeNet (layer `layer` must be lightning-attn,
// same base sizes as the teacher). The model lives on the teacher's device and dtype.
hypenet::HypeNetForCausalLM build_single_swap(hypenet::Qwen3ForCausalLM& teacher,
                                              hypenet::HypeNetForCausalLM& stage1, int64_t layer);

}  // namespace halo::selection
