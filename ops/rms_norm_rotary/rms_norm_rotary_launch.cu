// Launcher of the fused RMSNorm + rotary forward kernel: picks the dtype and the vector width
// (by rms_norm_launch.cu's rule, which decides the float sum's order), sizes the grid (8 rows
// per 256-thread block) and reports the launch status.
#include "ops/rms_norm_rotary/rms_norm_rotary_kernel.cuh"

#include <cstdint>

namespace halo::ops {

namespace {

template <typename T>
int launch_typed(const RmsNormRotaryParams& p, cudaStream_t stream) {
  constexpr int kThreads = kernels::kRmsNormRotaryThreads, kRowsPerBlock = kThreads / 32;
  if (p.d < 2 || p.d % 2 != 0 || p.d > kRmsNormRotaryMaxDim) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  const int64_t rows = p.B * p.T * p.H;
  const unsigned blocks = static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock);
  if (blocks == 0) return 0;
  constexpr int kVec = 16 / sizeof(T);
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  // The vector width sets which lane sums which elements. rms_norm_launch.cu vectorises when
  // cols % kVec == 0 and its x (contiguous), weight and fresh output are 16-byte aligned; with
  // rms_norm_rotary.cpp's choice of x (the caller's tensor when contiguous, a strided view only
  // when every row start is 16-byte aligned, else the same contiguous copy rms_norm makes) this
  // is the same decision, so the sum is bitwise rms_norm's.
  const bool vectorizable = p.d % kVec == 0 && p.x_stride_b % kVec == 0 &&
                            p.x_stride_t % kVec == 0 && p.x_stride_h % kVec == 0 &&
                            aligned(p.x) && aligned(p.w) && aligned(p.y);
  // The tables' access width changes no value (see load_table).
  const bool table_vec = p.table_stride_b % kVec == 0 && aligned(p.cos) && aligned(p.sin);
  if (vectorizable && table_vec) {
    kernels::rms_norm_rotary_forward_kernel<T, kVec, true><<<blocks, kThreads, 0, stream>>>(p);
  } else if (vectorizable) {
    kernels::rms_norm_rotary_forward_kernel<T, kVec, false><<<blocks, kThreads, 0, stream>>>(p);
  } else {
    kernels::rms_norm_rotary_forward_kernel<T, 1, false><<<blocks, kThreads, 0, stream>>>(p);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int rms_norm_rotary_forward_cuda(const RmsNormRotaryParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case RmsNormRotaryDtype::kFloat32: return launch_typed<float>(p, s);
    case RmsNormRotaryDtype::kBFloat16: return launch_typed<__nv_bfloat16>(p, s);
    case RmsNormRotaryDtype::kFloat16: return launch_typed<__half>(p, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace halo::ops
