// Validation loss and next-token accuracy (the commonsense proxy of layer selection) of a
// model over token batches. Both run under no_grad from the final hidden states and the LM head
// in chunks of rows (chunked_cross_entropy_loss and a chunked argmax), so no [B*T, V] logits
// tensor is ever made. Positions whose label is < 0 are ignored.
#pragma once

#include "halo/eval/token_batch.h"
#include "hypenet/causal_lm.h"

#include <vector>

namespace halo::eval {

struct TokenScores {
  double loss = 0.0;      // mean next-token cross-entropy (nats) over counted positions
  double accuracy = 0.0;  // fraction of counted positions whose argmax is the label
  double tokens = 0.0;    // counted positions
  int64_t batches = 0;
  double perplexity() const;  // exp(loss)
};

// chunk_tokens: rows of logits alive at once (memory: chunk_tokens x V float32).
TokenScores score_tokens(hypenet::CausalLM& model, const std::vector<TokenBatch>& batches,
                         int64_t chunk_tokens = 1024);

// Row-wise argmax of hidden [N, D] @ head[V, D]^T in chunks -> [N] int64.
at::Tensor chunked_argmax(const at::Tensor& hidden, const at::Tensor& head, int64_t chunk_tokens);

}  // namespace halo::eval
