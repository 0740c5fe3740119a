// RMSNorm op, Qwen3/transformers semantics: y = w * cast(x * rsqrt(mean(x^2) + eps), x.dtype),
// the statistics in float32. One API; the fused CUDA kernel of this folder runs for CUDA
// tensors when no gradient is needed (inference, the frozen teacher). CUDA tensors that need a
// gradient (a training student) go through rms_norm_fused_normalize: ATen's fused
// normalisation (_fused_rms_norm, its own CUDA forward and backward kernels) then the weight,
// instead of the reference's six separate float32 ops (78.6 ms of a 733 ms stage-2 step of a
// Qwen3-1.7B shape on an H200, docs/benchmarks.md). The CPU runs the reference. No autocast
// policy here: under autocast the op returns the dtype it returns outside it; which dtype the
// model's consumers get is the model's choice (hypenet::RMSNormImpl::forward).
#pragma once

#include <ATen/ATen.h>

namespace halo::ops {

// x: [..., N] float32/bfloat16/float16; weight: [N]. Returns [..., N].
at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps);

// The readable reference in ATen ops (differentiable); every other path is tested against it.
at::Tensor rms_norm_reference(const at::Tensor& x, const at::Tensor& weight, double eps);

// The same semantics as the reference with the normalisation x / sqrt(mean(x^2) + eps) done by
// ATen's _fused_rms_norm (in float32), cast to x's dtype, times the weight; for float32 and
// float64 x with a weight of x's dtype the weight is applied inside _fused_rms_norm.
// Differentiable on every device (on the CPU ATen decomposes it).
at::Tensor rms_norm_fused_normalize(const at::Tensor& x, const at::Tensor& weight, double eps);

// True when this build has the CUDA kernels.
bool rms_norm_has_cuda_kernel();

}  // namespace halo::ops
