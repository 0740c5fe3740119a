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

// `config.base` must describe the teacher's architecture (sizes, heads, vocab); errors name
// the mismatching key. Its tie_word_embeddings may differ from the teacher's: a tied student of
// an untied teacher drops the teacher's lm_head.weight (its output embedding is the teacher's
// input embedding); an untied student of a tied teacher gets lm_head.weight = a copy of the
// embedding. The student is created on the CPU in float32.
HypeNetForCausalLM hypenet_from_teacher(Qwen3ForCausalLM& teacher, const HypeNetConfig& config,
                                        uint64_t seed);

// A HypeNetConfig for `teacher_config` with `mixers` and the HypeNet-2B options of the authors'
// release (Lightning: RoPE, q/k norm, output norm, output gate, MHA via expand_kv_proj;
// attention: NoPE, output gate, no logit scaling). The head keeps the teacher's
// tie_word_embeddings; every released HypeNet ties it (student_head_tied below).
HypeNetConfig hypenet_config_like_release(const Qwen3Config& teacher_config,
                                          const std::vector<MixerType>& mixers);

// The student's tie_word_embeddings for a head choice (pipeline student.lm_head, convert
// --lm-head): "tied" (the authors' choice: every released HypeNet ties its head, also HypeNet-9B
// from the untied Qwen3-8B), "untied", or "teacher" (the teacher's own). Other values are an
// error naming `where`.
bool student_head_tied(const std::string& lm_head, bool teacher_tied, const std::string& where);

}  // namespace halo::hypenet
