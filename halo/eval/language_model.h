// The evaluation view of a model: a hypenet::CausalLM (Qwen3 teacher or HypeNet student) made
// from a loaded checkpoint or from a model object in memory, plus the two things evaluation
// needs beyond logits: the final hidden states and the output embedding (LM head).
#pragma once

#include "hypenet/causal_lm.h"

namespace halo::eval {

// Wrap in-memory models (no copy: the CausalLM holds the same module).
hypenet::CausalLM causal_lm_of(hypenet::Qwen3ForCausalLM model);
hypenet::CausalLM causal_lm_of(hypenet::HypeNetForCausalLM model);

// [V, D]: the LM head (or the tied embedding) of either kind.
at::Tensor output_embedding(const hypenet::CausalLM& model);

// Final-normed hidden states [B, T, D] for ids [B, T] int64 (moved to the model's device);
// positions: undefined (0..T-1) or [B, T] / [T] int64. No logits are computed.
at::Tensor final_hidden(hypenet::CausalLM& model, const at::Tensor& ids,
                        const at::Tensor& positions = {});

}  // namespace halo::eval
