// Launchers of the Lightning Attention kernels: map the runtime dtype, Dxy and slice width onto
// template instances, size the grid and shared memory, and report the launch status.
//
// Slice width W (state columns per CTA): every CTA recomputes its chunk's C x C score matrix,
// so wide slices waste less work but give fewer CTAs. W = 64 when that still yields at least
// one CTA per SM (e.g. 8 x 2048 x 16 heads: 256 CTAs on 132 SMs), else W = 16 (1 x 16384 x 16
// heads: 128 CTAs instead of 32). float32 always takes W = 16 (its two smem tiles of X and Y
// leave no room for wider slices) with a single buffer.
#include "ops/lightning_attention/lightning_attention_kernel.cuh"

#include <cstdint>
#include <type_traits>

namespace halo::ops {

namespace {

constexpr int kChunk = 64;  // C: rows per chunk (4 WMMA tiles)
constexpr int kWarps = 8;

template <typename T, int DXY, int W>
int launch_sweep_typed(const LightningSweepParams& p, cudaStream_t stream) {
  constexpr int kBuffers = std::is_same<T, float>::value ? 1 : 2;
  using Layout = kernels::SweepSmem<T, DXY, W, kChunk, kBuffers>;
  auto kernel = kernels::lightning_sweep_kernel<T, DXY, W, kChunk, kWarps, kBuffers>;
  const cudaError_t attr = cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(Layout::kBytes));
  if (attr != cudaSuccess) return static_cast<int>(attr);
  const int64_t blocks = p.num_seqs * p.heads * (p.dim_z / W);
  if (blocks == 0) return 0;
  kernel<<<static_cast<unsigned>(blocks), kWarps * 32, Layout::kBytes, stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

int num_sms() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 1;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) return 1;
  return sms;
}

template <typename T, int DXY>
int launch_sweep_width(const LightningSweepParams& p, cudaStream_t stream) {
  if constexpr (!std::is_same<T, float>::value) {
    if (p.dim_z % 64 == 0 && p.num_seqs * p.heads * (p.dim_z / 64) >= num_sms()) {
      return launch_sweep_typed<T, DXY, 64>(p, stream);
    }
  }
  return launch_sweep_typed<T, DXY, 16>(p, stream);
}

template <typename T>
int launch_sweep_dim(const LightningSweepParams& p, cudaStream_t stream) {
  switch (p.dim_xy) {
    case 64: return launch_sweep_width<T, 64>(p, stream);
    case 128: return launch_sweep_width<T, 128>(p, stream);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <typename T>
int launch_decode_typed(const LightningAttentionParams& p, cudaStream_t stream) {
  const int64_t blocks = p.num_seqs * p.heads;
  if (blocks == 0) return 0;
  const size_t smem = sizeof(float) * 2 * static_cast<size_t>(p.dim_k);
  kernels::lightning_decode_kernel<T><<<static_cast<unsigned>(blocks), 128, smem, stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

}  // namespace

int lightning_sweep_cuda(const LightningSweepParams& p, void* stream) {
  if (!lightning_sweep_supports(p.dim_xy, p.dim_z)) return static_cast<int>(cudaErrorInvalidValue);
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case LightningAttentionDtype::kFloat32: return launch_sweep_dim<float>(p, s);
    case LightningAttentionDtype::kBFloat16: return launch_sweep_dim<__nv_bfloat16>(p, s);
    case LightningAttentionDtype::kFloat16: return launch_sweep_dim<__half>(p, s);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

int lightning_decode_cuda(const LightningAttentionParams& p, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case LightningAttentionDtype::kFloat32: return launch_decode_typed<float>(p, s);
    case LightningAttentionDtype::kBFloat16: return launch_decode_typed<__nv_bfloat16>(p, s);
    case LightningAttentionDtype::kFloat16: return launch_decode_typed<__half>(p, s);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

}  // namespace halo::ops
