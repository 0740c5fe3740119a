// Launcher of the fused RMSNorm forward kernel: picks the dtype and the vector width, sizes the
// grid (8 rows per 256-thread block) and reports the launch status.
#include "ops/rms_norm/rms_norm_kernel.cuh"

#include <cstdint>

namespace halo::ops {

namespace {

template <typename T>
int launch_typed(const RmsNormParams& p, cudaStream_t stream) {
  constexpr int kThreads = 256, kRowsPerBlock = kThreads / 32;
  const unsigned blocks = static_cast<unsigned>((p.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  if (blocks == 0) return 0;
  constexpr int kVec = 16 / sizeof(T);
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  const bool vectorizable = p.cols % kVec == 0 && p.x_row_stride % kVec == 0 && aligned(p.x) &&
                            aligned(p.w) && aligned(p.y);
  if (vectorizable) {
    kernels::rms_norm_forward_kernel<T, kVec><<<blocks, kThreads, 0, stream>>>(p);
  } else {
    kernels::rms_norm_forward_kernel<T, 1><<<blocks, kThreads, 0, stream>>>(p);
  }
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int rms_norm_forward_cuda(const RmsNormParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case RmsNormDtype::kFloat32: return launch_typed<float>(p, s);
    case RmsNormDtype::kBFloat16: return launch_typed<__nv_bfloat16>(p, s);
    case RmsNormDtype::kFloat16: return launch_typed<__half>(p, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace halo::ops
