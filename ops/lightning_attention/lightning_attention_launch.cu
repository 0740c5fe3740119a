// Launchers of the Lightning Attention kernels: map the runtime dtype, Dxy and slice widths onto
// template instances, size the grids and shared memory, and report the launch status. This file
// is the op's one dispatch: every kernel a product path runs is chosen here, as follows.
//
// What runs (Dxy, Dz in {64, 128}, C = 64 positions per chunk; other head dims and float64 take
// the chunked ATen path of lightning_attention.cpp). Kernel names drop "lightning_":
//
//   q, k, v        state pass                                    output pass
//   bf16 / f16     64 x 64 blocks, mma.sync (state_kernel_mma);  output_kernel_mma (mma.sync)
//                  packed and too few to fill the GPU: 64 x 16
//                  blocks, WMMA (state_kernel_tc, W = 16)
//   float32, tf32  64 x 64 blocks, WMMA TF32 (state_kernel_tc);  output_kernel, TC (WMMA TF32)
//                  packed and too few: 64 x 16 (W = 16)
//   float32 exact  64 x 32 blocks, FMA loops (state_kernel_fma)  output_kernel, !TC (FMA loops)
//                  when they give two CTAs per SM, else 64 x 16
//   decode         T = 1, no gradients, not packed, any Dk and Dv: decode_kernel alone, one
//                  step per (sequence, head, 32 value columns).
//
// State pass: one CTA per (sequence or segment, head, 64 state rows, W state columns). The pass
// is a sequential walk over chunks, so its time is chunks x per-chunk time, over as many waves as
// its CTAs need. Segments (tensor-core paths, not packed): when sequences x heads are too few
// for the 64 x 64 blocks to fill the GPU (1 x 16384 x 16 heads: 10 segments), each walk splits
// into segments that run in parallel, then lightning_segment_combine_kernel joins them. Packed
// sequences (cu_seqlens: the ragged steps of the inference cache, hypenet/hybrid_cache.h) walk
// unsegmented; there the 64 x 16 block gives four times the CTAs of the 64 x 64 one.
// Output pass: WO = 64 columns per CTA, one CTA per (chunk, head, slice): 2048+ CTAs at the
// benchmark shapes.
// bf16 forward+backward with these kernels, H100 (2026-12-06, docs/benchmarks.md, session 7):
// 1.13 / 1.32 / 4.45 ms at 8 x 2048 / 1 x 16384 / 1 x 65536 (16 heads, D 128); the variants
// measured against them (WMMA passes for 16-bit types, other block shapes) are recorded there.
#include "ops/lightning_attention/lightning_attention_kernel.cuh"
#include "ops/lightning_attention/lightning_attention_mma.cuh"

#include <atomic>
#include <cstdint>
#include <type_traits>

namespace halo::ops {

namespace {

constexpr int kChunk = static_cast<int>(kLightningCudaChunk);  // C: 4 WMMA tiles
constexpr int kStateRows = 64, kStages = 4, kOutputWarps = 8, kOutputWidth = 64;
// WMMA state pass: the wide block (64 x 64, 4 warps, two buffers; TF32) and the narrow one
// (64 x 16, 4 warps, three buffers; packed sequences of any type).
constexpr int kWideState = 64, kNarrowState = 16, kTcWarps = 4;
constexpr int tc_stages(int w) { return w == kWideState ? 2 : 3; }

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

// Per-device facts the launchers need on every sweep (four sweeps per layer per training step)
// are asked of the driver once per device and remembered; 0 = not asked yet.
constexpr int kMaxDevices = 64;

template <typename Query>
int per_device_cached(std::atomic<int> (&cache)[kMaxDevices], Query query) {
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  if (device < 0 || device >= kMaxDevices) return query(device);
  int value = cache[device].load(std::memory_order_relaxed);
  if (value == 0) {
    value = query(device);
    cache[device].store(value, std::memory_order_relaxed);
  }
  return value;
}

int num_sms() {
  static std::atomic<int> cache[kMaxDevices];
  const int sms = per_device_cached(cache, [](int device) {
    int n = 0;
    return cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) == cudaSuccess ? n
                                                                                           : 0;
  });
  return sms > 0 ? sms : 1;
}

// Warps of a state-pass CTA. The narrow tensor-core block keeps one warp per 16 x 16 tile, the
// wide one 4 warps x 4 tiles (with segments it fills the GPU at every shape that is not packed).
// TC: tensor cores (16-bit T, or float as TF32), else the float32 FMA kernel.
template <bool TC>
constexpr int state_warps(int w) {
  return TC && w == kWideState ? kTcWarps : (kStateRows / 16) * (w / 16);
}
// The 64 x 64 block of 16-bit types runs on mma.sync (4 warps, three buffers); the others on
// WMMA or FMA loops.
constexpr int kMmaStages = 3;
template <typename T, int W, bool TC>
constexpr bool kMmaState = TC && W == kWideState && !std::is_same<T, float>::value;
template <typename T, int W, bool TC>
auto state_kernel() {
  if constexpr (!TC) {
    return kernels::lightning_state_kernel_fma<T, kStateRows, W, kChunk, kStages>;
  } else if constexpr (kMmaState<T, W, TC>) {
    return kernels::lightning_state_kernel_mma<T, kChunk, kMmaStages>;
  } else {
    return kernels::lightning_state_kernel_tc<T, kStateRows, W, kChunk, tc_stages(W),
                                              state_warps<true>(W)>;
  }
}
template <typename T, int W, bool TC>
size_t state_smem() {
  if constexpr (!TC) {
    return kernels::StateSmem<T, kStateRows, W, kChunk, kStages>::kBytes;
  } else if constexpr (kMmaState<T, W, TC>) {
    return kernels::StateMmaSmem<T, kChunk, kMmaStages>::kBytes;
  } else {
    return kernels::TcStateSmem<T, kStateRows, W, kChunk, tc_stages(W),
                                state_warps<true>(W)>::kBytes;
  }
}

// State-pass CTAs of 64 x W blocks for one walk per sequence.
int64_t state_blocks(const LightningSweepParams& p, int64_t w) {
  return p.num_seqs * p.heads * (p.dim_xy / kStateRows) * (p.dim_z / w);
}

template <typename T, bool TC, int W>
int launch_state(const LightningSweepParams& p, cudaStream_t stream) {
  return launch(state_kernel<T, W, TC>(), state_smem<T, W, TC>(), p.segments * state_blocks(p, W),
                state_warps<TC>(W) * 32, stream, p);
}

// Float32 FMA: 64 x 32 blocks when they give two CTAs per SM.
bool wide_fma_state(const LightningSweepParams& p) {
  return state_blocks(p, 32) >= 2 * num_sms();
}
// Tensor cores: the narrow block only for a single walk per sequence (packed sequences) whose
// wide blocks would leave SMs idle.
bool narrow_tc_state(const LightningSweepParams& p) {
  return p.segments <= 1 && p.cu_seqlens != nullptr && state_blocks(p, kWideState) < num_sms();
}

template <typename T, bool TC>
int launch_state_typed(const LightningSweepParams& p, cudaStream_t stream) {
  int err = 0;
  if constexpr (TC) {
    err = narrow_tc_state(p) ? launch_state<T, TC, kNarrowState>(p, stream)
                             : launch_state<T, TC, kWideState>(p, stream);
  } else {
    err = wide_fma_state(p) ? launch_state<T, TC, 32>(p, stream)
                            : launch_state<T, TC, 16>(p, stream);
  }
  if (err != 0 || p.segments <= 1) return err;
  const int64_t threads = p.num_seqs * p.heads * p.dim_xy * p.dim_z;
  kernels::lightning_segment_combine_kernel<<<static_cast<unsigned>((threads + 255) / 256), 256, 0,
                                              stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

template <typename T, bool TC, int DXY, bool TS>
int launch_output_typed(const LightningSweepParams& p, cudaStream_t stream) {
  const int64_t blocks = p.total_chunks * p.heads * (p.dim_z / kOutputWidth);
  if constexpr (!std::is_same<T, float>::value) {
    auto kernel = kernels::lightning_output_kernel_mma<T, DXY, TS>;
    // Four CTAs per SM need the whole 228 KB as shared memory.
    const cudaError_t carve = cudaFuncSetAttribute(
        kernel, cudaFuncAttributePreferredSharedMemoryCarveout, cudaSharedmemCarveoutMaxShared);
    if (carve != cudaSuccess) return static_cast<int>(carve);
    return launch(kernel, kernels::OutputMmaSmem<T, DXY, kOutputWidth, kChunk>::kBytes, blocks,
                  128, stream, p);
  } else {
    using Layout = kernels::OutputSmem<T, DXY, kOutputWidth, kChunk>;
    return launch(
        kernels::lightning_output_kernel<T, DXY, kOutputWidth, kChunk, kOutputWarps, TS, TC>,
        Layout::kBytes, blocks, kOutputWarps * 32, stream, p);
  }
}

template <typename T, bool TC, bool TS>
int launch_output_dim(const LightningSweepParams& p, cudaStream_t stream) {
  switch (p.dim_xy) {
    case 64: return launch_output_typed<T, TC, 64, TS>(p, stream);
    case 128: return launch_output_typed<T, TC, 128, TS>(p, stream);
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

template <typename T, bool TC>
int launch_output(const LightningSweepParams& p, cudaStream_t stream) {
  return p.state_transposed ? launch_output_dim<T, TC, true>(p, stream)
                            : launch_output_dim<T, TC, false>(p, stream);
}

template <typename T>
int launch_decode_typed(const LightningAttentionParams& p, cudaStream_t stream) {
  const int64_t col_tiles = (p.dim_v + kernels::kDecodeCols - 1) / kernels::kDecodeCols;
  const int64_t blocks = p.num_seqs * p.heads * col_tiles;
  if (blocks == 0) return 0;
  const size_t smem = sizeof(float) * 2 * static_cast<size_t>(p.dim_k);
  kernels::lightning_decode_kernel<T>
      <<<static_cast<unsigned>(blocks), kernels::kDecodeThreads, smem, stream>>>(p);
  return static_cast<int>(cudaGetLastError());
}

// Segments: as many as keep every SM's resident state-pass CTAs busy (occupancy of the wide
// tensor-core kernel), at most one per chunk. 1 x 16384 x 16 heads: 64 CTAs per walk.
template <typename T>
int64_t resident_state_blocks() {
  static std::atomic<int> cache[kMaxDevices];
  const int per_sm = per_device_cached(cache, [](int) {
    auto kernel = state_kernel<T, kWideState, true>();
    const size_t smem = state_smem<T, kWideState, true>();
    int n = 0;
    if (cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem)) != cudaSuccess ||
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kTcWarps * 32, smem) !=
            cudaSuccess) {
      return 0;
    }
    return n;
  });
  return static_cast<int64_t>(per_sm) * num_sms();
}

}  // namespace

void lightning_sweep_segments(const LightningSweepParams& p, int64_t* segments,
                              int64_t* segment_chunks) {
  *segments = 1;
  *segment_chunks = 0;
  const int64_t chunks = (p.seqlen + kChunk - 1) / kChunk;
  if (p.cu_seqlens != nullptr || chunks < 2) return;
  int64_t resident = 0;
  switch (p.dtype) {
    case LightningAttentionDtype::kBFloat16: resident = resident_state_blocks<__nv_bfloat16>(); break;
    case LightningAttentionDtype::kFloat16: resident = resident_state_blocks<__half>(); break;
    case LightningAttentionDtype::kFloat32:
      if (!p.tf32) return;  // exact float32: the FMA walk is not the bottleneck of that path
      resident = resident_state_blocks<float>();
      break;
    default: return;
  }
  const int64_t base = state_blocks(p, kWideState);
  int64_t g = base > 0 ? resident / base : 1;
  g = g < chunks ? g : chunks;
  if (g < 2) return;
  *segment_chunks = (chunks + g - 1) / g;
  *segments = (chunks + *segment_chunks - 1) / *segment_chunks;
}

namespace {

template <typename T>
struct TypeTag {
  using type = T;
};

// fn(TypeTag<T>{}) for the element type T of `dtype` (float32, bfloat16, float16).
template <typename Fn>
int dispatch_dtype(LightningAttentionDtype dtype, Fn&& fn) {
  switch (dtype) {
    case LightningAttentionDtype::kFloat32: return fn(TypeTag<float>{});
    case LightningAttentionDtype::kBFloat16: return fn(TypeTag<__nv_bfloat16>{});
    case LightningAttentionDtype::kFloat16: return fn(TypeTag<__half>{});
    default: return static_cast<int>(cudaErrorInvalidValue);
  }
}

// fn(TypeTag<T>{}, std::bool_constant<TC>{}) for a sweep: T its element type, TC whether its
// matmuls run on tensor cores (16-bit types always, float32 when p.tf32).
template <typename Fn>
int dispatch_sweep(const LightningSweepParams& p, Fn&& fn) {
  return dispatch_dtype(p.dtype, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_same<T, float>::value) {
      return p.tf32 ? fn(tag, std::true_type{}) : fn(tag, std::false_type{});
    } else {
      return fn(tag, std::true_type{});
    }
  });
}

}  // namespace

int lightning_sweep_state_cuda(const LightningSweepParams& p, void* stream) {
  // A transposed-state sweep reads another sweep's states: it has no state pass of its own.
  if (p.state_transposed || !lightning_sweep_supports(p.dim_xy, p.dim_z)) {
    return static_cast<int>(cudaErrorInvalidValue);
  }
  return dispatch_sweep(p, [&](auto tag, auto tc) {
    return launch_state_typed<typename decltype(tag)::type, decltype(tc)::value>(
        p, static_cast<cudaStream_t>(stream));
  });
}

int lightning_sweep_output_cuda(const LightningSweepParams& p, void* stream) {
  if (!lightning_sweep_supports(p.dim_xy, p.dim_z)) return static_cast<int>(cudaErrorInvalidValue);
  return dispatch_sweep(p, [&](auto tag, auto tc) {
    return launch_output<typename decltype(tag)::type, decltype(tc)::value>(
        p, static_cast<cudaStream_t>(stream));
  });
}

int lightning_sweep_cuda(const LightningSweepParams& p, void* stream) {
  const int err = lightning_sweep_state_cuda(p, stream);
  return err != 0 ? err : lightning_sweep_output_cuda(p, stream);
}

int lightning_decode_cuda(const LightningAttentionParams& p, void* stream) {
  return dispatch_dtype(p.dtype, [&](auto tag) {
    return launch_decode_typed<typename decltype(tag)::type>(p, static_cast<cudaStream_t>(stream));
  });
}

}  // namespace halo::ops
