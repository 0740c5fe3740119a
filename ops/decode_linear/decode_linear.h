// Decode linear op: at::linear(x, weight, bias) for the few rows of a decode step. One API; on
// CUDA, for bfloat16 / float16 x of at most 8 rows (batch x new tokens) with 16-byte aligned
// rows, no gradient needed and the kernel enabled (set_decode_linear_kernel_enabled; off by
// default), the bandwidth-bound kernel of this folder runs (decode_linear_kernel.cuh says why);
// everything else, training included, is at::linear.
#pragma once

#include <ATen/ATen.h>

namespace halo::ops {

// x: [..., in]; weight: [out, in]; bias: [out] or undefined. Returns [..., out] in x's dtype.
at::Tensor decode_linear(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias);

// The reference every path is tested against: at::linear.
at::Tensor decode_linear_reference(const at::Tensor& x, const at::Tensor& weight,
                                   const at::Tensor& bias);

// True when decode_linear would run the CUDA kernel for these arguments.
bool decode_linear_uses_kernel(const at::Tensor& x, const at::Tensor& weight,
                               const at::Tensor& bias);

// Process-wide switch (bench decode --decode-linear): false sends every call to at::linear.
// Off by default until a GPU run has passed its [cuda] tests (written in session 12 without a
// GPU); the tests switch it on.
void set_decode_linear_kernel_enabled(bool enabled);
bool decode_linear_kernel_enabled();

}  // namespace halo::ops
