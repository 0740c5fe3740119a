// Next-token cross-entropy of a causal LM from its final hidden states and LM head, through the
// chunked full-vocabulary loss of halo/losses (no [tokens, vocab] float32 logits beyond one
// chunk). Every position of a packed batch counts (the loader's labels are the next stream
// token, document separators included).
#pragma once

#include <ATen/ATen.h>

namespace halo::stages {

// hidden: [B, T, D]; head: [V, D]; labels: [B, T] int64. Mean over the B*T tokens.
at::Tensor causal_lm_loss(const at::Tensor& hidden, const at::Tensor& head,
                          const at::Tensor& labels, int64_t chunk_tokens);

}  // namespace halo::stages
