// Launchers of the Lightning Attention kernels: map the runtime dtype, Dxy and slice widths onto
// template instances, size the grids and shared memory, and report the launch status.
//
// State pass: one CTA per (sequence, head, 64 state rows, W state columns), a warp per 16 x 16
// tile. The pass is a sequential walk over chunks, so its time is chunks x per-chunk latency;
// smaller blocks mean more CTAs with less work per chunk. W = 32 when that gives two CTAs per
// SM (8 x 2048 x 16 heads x 128 x 128: 1024 CTAs), else W = 16 (1 x 16384 x 16 heads: 256).
// Output pass: WO = 64 columns per CTA, one CTA per (chunk, head, slice): 2048+ CTAs at the
// benchmark shapes.
#include "ops/lightning_attention/lightning_attention_kernel.cuh"

#include <cstdint>
#include <type_traits>

namespace halo::ops {

namespace {

constexpr int kChunk = static_cast<int>(kLightningCudaChunk);  // C: 4 WMMA tiles
constexpr int kStateRows = 64, kStages = 4, kOutputWarps = 8, kOutputWidth = 64;

template <typename Kernel>
int launch(Kernel kernel, size_t smem, int64_t blocks, int threads, cudaStream_t stream,
           const LightningSweepParams& p) {
  if (blocks == 0) return 0;
  const cudaError_t attr = cudaFuncSetAttribute(
      kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
  if (attr != cudaSuccess) return static_cast<int>(attr);
  kernel<<<static_cast<unsigned>(blocks), threads, smem, stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

int num_sms() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 1;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) return 1;
  return sms;
}

template <typename T, int W>
int launch_state(const LightningSweepParams& p, cudaStream_t stream) {
  using Layout = kernels::StateSmem<T, kStateRows, W, kChunk, kStages>;
  constexpr int kThreads = (kStateRows / 16) * (W / 16) * 32;
  const int64_t blocks = p.num_seqs * p.heads * (p.dim_xy / kStateRows) * (p.dim_z / W);
  if constexpr (std::is_same<T, float>::value) {
    return launch(kernels::lightning_state_kernel_fma<T, kStateRows, W, kChunk, kStages>,
                  Layout::kBytes, blocks, kThreads, stream, p);
  } else {
    // One warp per 16 x 16 tile. fla's split (64 x 64 blocks, 64 CTAs at 1 x 16384) measured
    // slower here (H100, 2026-11-28, ncu, 1 x 16384 bf16 forward): 720 us against 474 us for
    // 64 x 16 blocks (256 CTAs): the walk is bound by per-chunk instruction latency, so more
    // CTAs with less work each win even though every y row is then read Dz / 16 times.
    return launch(kernels::lightning_state_kernel_tc<T, kStateRows, W, kChunk, kStages,
                                                     (kStateRows / 16) * (W / 16)>,
                  Layout::kBytes, blocks, kThreads, stream, p);
  }
}

template <typename T, int DXY>
int launch_sweep_typed(const LightningSweepParams& p, cudaStream_t stream) {
  const int64_t wide_blocks = p.num_seqs * p.heads * (p.dim_xy / kStateRows) * (p.dim_z / 32);
  const int err = wide_blocks >= 2 * num_sms() ? launch_state<T, 32>(p, stream)
                                               : launch_state<T, 16>(p, stream);
  if (err != 0) return err;
  using Layout = kernels::OutputSmem<T, DXY, kOutputWidth, kChunk>;
  return launch(kernels::lightning_output_kernel<T, DXY, kOutputWidth, kChunk, kOutputWarps>,
                Layout::kBytes, p.total_chunks * p.heads * (p.dim_z / kOutputWidth),
                kOutputWarps * 32, stream, p);
}

template <typename T>
int launch_sweep_dim(const LightningSweepParams& p, cudaStream_t stream) {
  switch (p.dim_xy) {
    case 64: return launch_sweep_typed<T, 64>(p, stream);
    case 128: return launch_sweep_typed<T, 128>(p, stream);
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
