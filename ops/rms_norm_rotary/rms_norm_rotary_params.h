// Plain parameters of the fused RMSNorm + rotary (RoPE) forward kernel: pointers, sizes and
// strides only, no ATen types, so the .cu files never include LibTorch headers.
#pragma once

#include <cstdint>

namespace halo::ops {

enum class RmsNormRotaryDtype : int { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

struct RmsNormRotaryParams {
  // [B, T, H, d], unit stride in d; strides in elements (a dimension of size 1 has stride 0, so
  // only strides that address something decide the vector width).
  const void* x = nullptr;
  int64_t x_stride_b = 0, x_stride_t = 0, x_stride_h = 0;
  const void* w = nullptr;    // [d], contiguous, same dtype as x
  // Rotary tables [T, d] or [B, T, d], contiguous rows of d, same dtype as x: the row of token
  // (b, t) starts at b * table_stride_b + t * d (table_stride_b = 0 for [T, d] or [1, T, d]).
  const void* cos = nullptr;
  const void* sin = nullptr;
  int64_t table_stride_b = 0;
  void* y = nullptr;          // [B, T, H, d], contiguous
  int64_t B = 0, T = 0, H = 0, d = 0;
  float eps = 1e-6f;
  RmsNormRotaryDtype dtype = RmsNormRotaryDtype::kFloat32;
};

// Largest head dim the kernel takes (one warp per row stages the normalised row in shared
// memory); d must also be even.
constexpr int64_t kRmsNormRotaryMaxDim = 256;

// Launches the forward kernel on `stream` (a cudaStream_t passed as void*). Returns the CUDA
// error code of the launch (0 = success); the caller turns it into a message.
int rms_norm_rotary_forward_cuda(const RmsNormRotaryParams& params, void* stream);

}  // namespace halo::ops
