// Plain parameters of the fused RMSNorm forward kernel: pointers and sizes only, no ATen types,
// so the .cu files never include LibTorch headers.
#pragma once

#include <cstdint>

namespace halo::ops {

enum class RmsNormDtype : int { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

struct RmsNormParams {
  const void* x = nullptr;  // [rows, cols], row stride `x_row_stride` elements, unit col stride
  const void* w = nullptr;  // [cols], contiguous, same dtype as x
  void* y = nullptr;        // [rows, cols], contiguous
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t x_row_stride = 0;
  float eps = 1e-6f;
  RmsNormDtype dtype = RmsNormDtype::kFloat32;
  // Few wide rows may take the block-per-row kernel (rms_norm_launch.cu); opt-in, see
  // rms_norm_row_block.h.
  bool allow_row_block = false;
};

// Launches the forward kernel on `stream` (a cudaStream_t passed as void*). Returns the CUDA
// error code of the launch (0 = success); the caller turns it into a message.
int rms_norm_forward_cuda(const RmsNormParams& params, void* stream);

}  // namespace halo::ops
