// Stage 2's loss (HALO_NOTES 3 step 3): token-level KL(p_teacher || p_student) over the full
// vocabulary, computed from the final hidden states and LM heads chunk by chunk, so no full
// [N, V] float32 logits tensor ever exists (only a few [chunk_tokens, V] buffers at a time).
//
//   loss = (1 / normalizer) * sum over n with mask[n] of
//          sum_v p_t[n, v] * (log p_t[n, v] - log p_s[n, v])
//   p_s = softmax(student_hidden @ student_head^T), p_t = softmax(teacher_hidden @ teacher_head^T)
//
// A torch::autograd::Function: forward runs the chunks and, when the student tensors take
// gradients, also writes each chunk's gradient while its softmaxes exist (kept: [N, D] in the
// input dtype and [V, D] in the math dtype); backward only scales them. Every
// chunk is visited, the last partial one included, and rows whose mask is false add nothing to
// the loss or the gradients (at::where, so even non-finite values there stay out).
// The logits matmul runs in the input dtype (float32 accumulation on tensor cores); softmax,
// KL and the student_head gradient accumulator are float32 whatever the input dtype (float64
// inputs compute in float64: the test reference).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace halo::losses {

// student_hidden: [N, D] (final-normed hidden states, rows = tokens); student_head: [V, D];
// teacher_hidden: [N, D]; teacher_head: [V, D] (same dtype as the teacher hidden states);
// mask: [N] bool, true where the token counts; chunk_tokens: rows per chunk (>= 1; any N is
// fine); normalizer: what the sum is divided by, the global number of counted tokens (over
// all ranks and accumulation micro-batches; one rank, one micro-batch: mask.sum()).
// Returns a float32 scalar (float64 for float64 inputs). Gradients flow to student_hidden and
// student_head; none to the teacher tensors (pass them detached).
at::Tensor chunked_kl_loss(const at::Tensor& student_hidden, const at::Tensor& student_head,
                           const at::Tensor& teacher_hidden, const at::Tensor& teacher_head,
                           const at::Tensor& mask, int64_t chunk_tokens, double normalizer);

}  // namespace halo::losses
