// Plain parameters of the decode linear kernel (y = x W^T + b for a few rows of x): pointers and
// sizes only, no ATen types, so the .cu files never include LibTorch headers.
#pragma once

#include <cstdint>

namespace halo::ops {

enum class DecodeLinearDtype : int { kBFloat16 = 0, kFloat16 = 1 };

struct DecodeLinearParams {
  const void* x = nullptr;     // [rows, in], row stride x_row_stride elements, 16-byte aligned
  const void* w = nullptr;     // [out, in] contiguous, 16-byte aligned
  const void* bias = nullptr;  // [out] or nullptr
  void* y = nullptr;           // [rows, out] contiguous
  int64_t rows = 0;            // 1..kDecodeLinearMaxRows
  int64_t in_features = 0;     // a multiple of 8
  int64_t out_features = 0;
  int64_t x_row_stride = 0;  // a multiple of 8
  int num_sms = 0;           // the device's SM count (sizes the grid)
  DecodeLinearDtype dtype = DecodeLinearDtype::kBFloat16;
};

// The kernel keeps x in shared memory: rows * in_features * 2 bytes, at most this many.
constexpr int64_t kDecodeLinearMaxRows = 8;
constexpr int64_t kDecodeLinearMaxSharedBytes = 128 * 1024;

// Launches on `stream` (a cudaStream_t passed as void*). Returns the CUDA error code (0 = ok).
int decode_linear_cuda(const DecodeLinearParams& params, void* stream);

}  // namespace halo::ops
