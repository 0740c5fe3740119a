// Fused RMSNorm forward kernels: one warp per row (many rows), or one block per row (few rows, as
// in a decode step). Each lane accumulates sum(x^2) in float32 over its strided slice (16-byte
// vector loads when the row allows), shuffles (and for a block, shared memory) reduce it, then
// the row is normalised in float32, rounded to the input dtype (as transformers does) and
// multiplied by the weight with one more rounding. Replaces seven ATen kernels per norm.
#pragma once

#include "ops/common/cuda_dtype.cuh"
#include "ops/rms_norm/rms_norm_params.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace halo::ops::kernels {


// VEC elements of T per 16-byte access (VEC = 1: scalar fallback for odd sizes/alignment).
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

// sum(x^2) in float32 over the vectors first, first + stride, ... of one row.
template <typename T, int VEC>
__device__ __forceinline__ float row_sum_squares(const T* x, int64_t nvec, int64_t first,
                                                 int64_t stride) {
  using V = Vec<T, VEC>;
  float sum = 0.f;
  for (int64_t i = first; i < nvec; i += stride) {
    V xv = reinterpret_cast<const V*>(x)[i];
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      float f = to_float(xv.v[j]);
      sum += f * f;
    }
  }
  return sum;
}

// y = w * cast(x * inv) over the same vectors of the row, rounded as transformers does.
template <typename T, int VEC>
__device__ __forceinline__ void write_normed_row(const T* x, const T* w, T* y, int64_t nvec,
                                                 int64_t first, int64_t stride, float inv) {
  using V = Vec<T, VEC>;
  for (int64_t i = first; i < nvec; i += stride) {
    V xv = reinterpret_cast<const V*>(x)[i];
    V wv = reinterpret_cast<const V*>(w)[i];
    V yv;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const T normed = from_float<T>(to_float(xv.v[j]) * inv);
      yv.v[j] = from_float<T>(to_float(wv.v[j]) * to_float(normed));
    }
    reinterpret_cast<V*>(y)[i] = yv;
  }
}

template <typename T, int VEC>
__global__ void rms_norm_forward_kernel(RmsNormParams p) {
  constexpr int kWarp = 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * (blockDim.x / kWarp) + threadIdx.x / kWarp;
  const int lane = threadIdx.x % kWarp;
  if (row >= p.rows) return;
  const T* x = static_cast<const T*>(p.x) + row * p.x_row_stride;
  const T* w = static_cast<const T*>(p.w);
  T* y = static_cast<T*>(p.y) + row * p.cols;
  const int64_t nvec = p.cols / VEC;
  float sum = row_sum_squares<T, VEC>(x, nvec, lane, kWarp);
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const float inv = rsqrtf(sum / static_cast<float>(p.cols) + p.eps);
  write_normed_row<T, VEC>(x, w, y, nvec, lane, kWarp, inv);
}

// One block of THREADS per row, for few wide rows: a decode step normalises 1-32 rows of 2048,
// where a warp per row keeps one or two SMs busy and walks each row in 8 dependent rounds
// (4.7 us a call, 92 calls = 0.43 ms of a 4.1 ms HypeNet decode step at batch 1 on an H100,
// profiled 2026-12-07). Same arithmetic as the warp kernel; the float32 sum is added in another
// order, so a result may differ from it in the last bit of the input dtype.
template <typename T, int VEC, int THREADS>
__global__ void rms_norm_forward_row_block_kernel(RmsNormParams p) {
  constexpr int kWarp = 32, kWarps = THREADS / kWarp;
  const int64_t row = blockIdx.x;
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  const T* x = static_cast<const T*>(p.x) + row * p.x_row_stride;
  const T* w = static_cast<const T*>(p.w);
  T* y = static_cast<T*>(p.y) + row * p.cols;
  const int64_t nvec = p.cols / VEC;
  float sum = row_sum_squares<T, VEC>(x, nvec, threadIdx.x, THREADS);
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  __shared__ float partial[kWarps];
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  float total = 0.f;  // every thread adds the partials in the same order: one inv per row
#pragma unroll
  for (int i = 0; i < kWarps; ++i) total += partial[i];
  const float inv = rsqrtf(total / static_cast<float>(p.cols) + p.eps);
  write_normed_row<T, VEC>(x, w, y, nvec, threadIdx.x, THREADS, inv);
}

}  // namespace halo::ops::kernels
