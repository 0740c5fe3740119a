// Argument checks and chunk bookkeeping shared by the chunked vocabulary losses (chunked_kl,
// chunked_cross_entropy). Letters: N tokens (rows), D hidden size, V vocabulary, C chunk rows.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace halo::losses {

// The math dtype of the losses: float32 for float32 / bfloat16 / float16 inputs, float64 for
// float64 inputs (the test reference).
at::ScalarType loss_compute_dtype(at::ScalarType input);

// Checks one (hidden [N, D], head [V, D]) pair: floating, 2-D, same dtype and device, matching
// D. `op` and the prefix `what` ("student_", "teacher_" or "") name the arguments.
void check_hidden_and_head(const char* op, const char* what, const at::Tensor& hidden,
                           const at::Tensor& head);

// Checks mask [N] bool on hidden's device, chunk_tokens >= 1 and a finite normalizer > 0.
void check_mask_chunk_normalizer(const char* op, const at::Tensor& hidden, const at::Tensor& mask,
                                 int64_t chunk_tokens, double normalizer);

// Under autocast on the calling thread (for t's device type): a float32 t cast to the autocast
// dtype (a differentiable cast, so gradients come back in float32); otherwise t itself. The
// chunked losses apply it to their inputs before their autograd Function, because the
// Function's backward runs on the autograd thread, where autocast is off: without it the
// backward's matmuls ran in float32 without tensor cores (3 x 73 ms of a 733 ms stage-2 step of
// a Qwen3-1.7B shape on an H200, docs/benchmarks.md).
at::Tensor autocast_operand(const at::Tensor& t);
// The dtype autocast_operand(t) has.
at::ScalarType autocast_operand_dtype(const at::Tensor& t);

// Logits of rows [begin, begin + len) of hidden [N, D] against head [V, D] -> [len, V] in the
// inputs' dtype, straight from the matmul (callers fold the cast to float32 into a softmax).
at::Tensor chunk_matmul_logits(const at::Tensor& hidden, const at::Tensor& head, int64_t begin,
                               int64_t len);

// Logits of rows [begin, begin + len) of hidden [N, D] against head [V, D] -> [len, V] in
// `dtype`. The matmul runs in the input dtype (tensor cores accumulate in float32); softmax
// and everything after it run in `dtype`.
at::Tensor chunk_logits(const at::Tensor& hidden, const at::Tensor& head, int64_t begin,
                        int64_t len, at::ScalarType dtype);

}  // namespace halo::losses
