// HALO step 0 (HALO_NOTES 3): build a HypeNet from a Qwen3 teacher. Embedding, norms, MLPs and
// LM head are copied; attention layers keep the teacher's q/k/v/o and q/k norms (o_gate new);
// each Lightning layer is initialised from that layer's attention: q and o copied, k and v
// expanded from GQA to MHA by repeating each kv head's rows (repeat_interleave) when
// expand_kv_proj is set, q/k norms copied, o_norm one, z_proj new. New weights are drawn
// normal(0, initializer_range) from `seed`.
#pragma once

#include "hypenet/hypenet_model.h"
#include "hypenet/qwen3_model.h"

namespace halo::hypenet {

// `config.base` must describe the teacher's architecture (sizes, heads, vocab, tie); errors name
// the mismatching key. The student is created on the CPU in float32.
HypeNetForCausalLM hypenet_from_teacher(Qwen3ForCausalLM& teacher, const HypeNetConfig& config,
                                        uint64_t seed);

// A HypeNetConfig for `teacher_config` with `mixers` and the HypeNet-2B options of the authors'
// release (Lightning: RoPE, q/k norm, output norm, output gate, MHA via expand_kv_proj;
// attention: NoPE, output gate, no logit scaling).
HypeNetConfig hypenet_config_like_release(const Qwen3Config& teacher_config,
                                          const std::vector<MixerType>& mixers);

}  // namespace halo::hypenet
