// Global-norm gradient clipping with multi-tensor (foreach) kernels: the same result as
// torch::nn::utils::clip_grad_norm_ (L2 norm of all gradients; gradients scaled by
// min(1, max_norm / (norm + 1e-6))), but two launches for all tensors instead of two per tensor.
// Why: LibTorch's loop cost 9.6 ms of kernels plus 12.2 ms of launch gaps per stage-2 step of a
// Qwen3-1.7B-shaped student (359 tensors) on an H200 (docs/benchmarks.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

namespace halo::train {

// Returns the total L2 norm of the gradients of `params` (those without a gradient are
// skipped). max_norm > 0 clips; max_norm <= 0 only measures.
double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm);

}  // namespace halo::train
