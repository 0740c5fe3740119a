// RMSNorm op, Qwen3/transformers semantics: y = w * cast(x * rsqrt(mean(x^2) + eps), x.dtype),
// the statistics in float32. One API; the fused CUDA kernel runs for CUDA tensors when no
// gradient is needed (inference, the frozen teacher), the ATen reference everywhere else
// (and for autograd, which differentiates the reference).
#pragma once

#include <ATen/ATen.h>

namespace halo::ops {

// x: [..., N] float32/bfloat16/float16; weight: [N]. Returns [..., N].
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// The readable reference in ATen ops (differentiable); every other path is tested against it.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps);

// True when this build has the CUDA kernels.
bool rms_norm_has_cuda_kernel();

}  // namespace halo::ops
