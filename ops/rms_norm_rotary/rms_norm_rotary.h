// RMSNorm followed by the rotary position embedding (RoPE, rotate-half convention) on q or k
// heads: rotary(rms_norm(x, weight, eps), cos, sin), the q_norm / k_norm + apply_rotary pair of
// the attention layers in one op. One API; on a GPU, without gradients, the fused kernel of this
// folder runs (one launch per tensor instead of the norm kernel and five elementwise RoPE
// kernels) and gives bitwise the result of ops::rms_norm followed by ATen's
// x * cos + cat(-x2, x1) * sin; everywhere else the op runs exactly those two steps.
#pragma once

#include <ATen/ATen.h>

namespace halo::ops {

// x: [B, T, H, d], d even (any strides; a view with unit stride in d and 16-byte aligned rows is
// read in place, anything else through a contiguous copy); weight: [d]; cos, sin: [T, d] or
// [B, T, d] (or [1, T, d]), the tables of hypenet::rotary_tables. Returns [B, T, H, d],
// contiguous. The kernel runs when rms_norm_rotary_uses_kernel(x) and weight, cos and sin have
// x's dtype and need no gradient; otherwise ops::rms_norm (with its CUDA kernel and its training
// path) then rotary_reference, i.e. the unfused path. No autocast rule: hypenet::norm_rotary
// applies the model's (RMSNormImpl::forward) before the rotation when it casts.
at::Tensor rms_norm_rotary(const at::Tensor& x, const at::Tensor& weight, double eps,
                           const at::Tensor& cos, const at::Tensor& sin);

// The readable reference in ATen ops (differentiable): rms_norm_reference then rotary_reference.
at::Tensor rms_norm_rotary_reference(const at::Tensor& x, const at::Tensor& weight, double eps,
                                     const at::Tensor& cos, const at::Tensor& sin);

// The rotary step alone, as hypenet::apply_rotary computes it (ops do not include hypenet/):
// x * cos + cat(-x2, x1) * sin with cos/sin broadcast over heads; under autocast 16-bit x keeps
// its dtype (the tables are cast to it). x: [B, T, H, d]; cos, sin: [T, d] or [B, T, d].
at::Tensor rotary_reference(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

// Whether rms_norm_rotary runs the CUDA kernel for this x: a CUDA build, x on a GPU,
// float32/bfloat16/float16, 4-D and non-empty, d even and d <= 256, no gradient needed.
bool rms_norm_rotary_uses_kernel(const at::Tensor& x);

}  // namespace halo::ops
