// Launcher of the decode linear kernel: picks the dtype and the row count (a template argument,
// 1-8), sizes the grid (enough blocks for every output feature's warp, at most 8 per SM: past
// that, each block would stage x again for little more memory parallelism) and the shared memory,
// and reports the launch status.
#include "ops/decode_linear/decode_linear_kernel.cuh"

#include <algorithm>
#include <cstdint>

namespace halo::ops {

namespace {

template <typename T, int M>
int launch_rows(const DecodeLinearParams& p, cudaStream_t stream) {
  constexpr int kWarps = kernels::kDecodeLinearThreads / 32;
  const int64_t needed = (p.out_features + kWarps - 1) / kWarps;
  const int64_t cap = std::max<int64_t>(1, int64_t(p.num_sms) * 8);
  const auto blocks = static_cast<unsigned>(std::min(needed, cap));
  const size_t smem = static_cast<size_t>(M) * p.in_features * sizeof(T);
  auto kernel = kernels::decode_linear_kernel<T, M>;
  if (smem > 48 * 1024) {
    // Above the default 48 KiB a kernel must opt in (not a stream operation: allowed while a
    // CUDA graph is being captured).
    const cudaError_t e =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem));
    if (e != cudaSuccess) return static_cast<int>(e);
  }
  kernel<<<blocks, kernels::kDecodeLinearThreads, smem, stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

template <typename T>
int launch_typed(const DecodeLinearParams& p, cudaStream_t stream) {
  switch (p.rows) {
    case 1:
      return launch_rows<T, 1>(p, stream);
    case 2:
      return launch_rows<T, 2>(p, stream);
    case 3:
      return launch_rows<T, 3>(p, stream);
    case 4:
      return launch_rows<T, 4>(p, stream);
    case 5:
      return launch_rows<T, 5>(p, stream);
    case 6:
      return launch_rows<T, 6>(p, stream);
    case 7:
      return launch_rows<T, 7>(p, stream);
    case 8:
      return launch_rows<T, 8>(p, stream);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace

int decode_linear_cuda(const DecodeLinearParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case DecodeLinearDtype::kBFloat16:
      return launch_typed<__nv_bfloat16>(p, s);
    case DecodeLinearDtype::kFloat16:
      return launch_typed<__half>(p, s);
  }
  return static_cast<int>(cudaErrorInvalidValue);
}

}  // namespace halo::ops
