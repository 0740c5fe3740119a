// Stage 3's loss (and pretraining's): next-token cross-entropy over the full vocabulary from
// the final hidden states and the LM head, chunk by chunk like chunked_kl.h, so no full [N, V]
// float32 logits tensor exists (only a few [chunk_tokens, V] buffers at a time).
//
//   loss = (1 / normalizer) * sum over n with mask[n] of (logsumexp_v logits[n, v] - logits[n,
//   labels[n]]) logits = hidden @ head^T
//
// A torch::autograd::Function: forward keeps only the per-row log-sum-exps ([N]); backward
// recomputes each chunk's logits. Every chunk counts, the last partial one included; rows whose
// mask is false add nothing (their labels may be anything, e.g. -100). Matmul in the input
// dtype, softmax and the head-gradient accumulator in float32 (float64 for float64 inputs).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace halo::losses {

// hidden: [N, D]; head: [V, D]; labels: [N] int64, in [0, V) where mask is true; mask: [N]
// bool; chunk_tokens >= 1; normalizer: global count of counted tokens (see chunked_kl.h).
// Returns a float32 scalar (float64 for float64 inputs); gradients to hidden and head.
at::Tensor chunked_cross_entropy_loss(const at::Tensor& hidden, const at::Tensor& head,
                                      const at::Tensor& labels, const at::Tensor& mask,
                                      int64_t chunk_tokens, double normalizer);

}  // namespace halo::losses
