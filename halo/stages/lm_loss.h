// Next-token cross-entropy of a causal LM from its final hidden states and LM head, through the
// chunked full-vocabulary loss of halo/losses (no [tokens, vocab] float32 logits beyond one
// chunk). Every position of a packed batch counts (the loader's labels are the next stream
// token, document separators included), so a batch counts B*T tokens.
#pragma once

#include <ATen/ATen.h>

namespace halo::stages {

// hidden: [B, T, D]; head: [V, D]; labels: [B, T] int64. The cross-entropy summed over the B*T
// tokens, divided by `normalizer` (the trainer's global token count; B*T gives the mean).
at::Tensor causal_lm_loss(const at::Tensor& hidden, const at::Tensor& head,
                          const at::Tensor& labels, int64_t chunk_tokens, double normalizer);

}  // namespace halo::stages
