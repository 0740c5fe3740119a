// Launcher of the fused RMSNorm forward kernels: picks the dtype, the vector width and the kernel
// (when allowed, a block per row for at most kRowBlockMaxRows rows of at least kRowBlockMinCols
// columns; else 8 rows per 256-thread block), sizes the grid and reports the launch status.
#include "ops/rms_norm/rms_norm_kernel.cuh"

#include <cstdint>

namespace halo::ops {

namespace {

// A block per row while the rows fill at most two waves of an H100's 132 SMs and each row gives
// a 256-thread block at least 4 elements per thread.
constexpr int64_t kRowBlockMaxRows = 264, kRowBlockMinCols = 1024;

template <typename T>
int launch_typed(const RmsNormParams& p, cudaStream_t stream) {
  constexpr int kThreads = 256, kRowsPerBlock = kThreads / 32;
  const unsigned blocks = static_cast<unsigned>((p.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  if (blocks == 0) return 0;
  constexpr int kVec = 16 / sizeof(T);
  auto aligned = [](const void* ptr) { return reinterpret_cast<uintptr_t>(ptr) % 16 == 0; };
  const bool vectorizable = p.cols % kVec == 0 && p.x_row_stride % kVec == 0 && aligned(p.x) &&
                            aligned(p.w) && aligned(p.y);
  if (p.allow_row_block && p.rows <= kRowBlockMaxRows && p.cols >= kRowBlockMinCols) {
    const auto rows = static_cast<unsigned>(p.rows);
    if (vectorizable) {
      kernels::rms_norm_forward_row_block_kernel<T, kVec, kThreads>
          <<<rows, kThreads, 0, stream>>>(p);
    } else {
      kernels::rms_norm_forward_row_block_kernel<T, 1, kThreads><<<rows, kThreads, 0, stream>>>(p);
    }
  } else if (vectorizable) {
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
