// Fused RMSNorm + rotary (RoPE, rotate-half) forward kernel: one warp per (token, head) row of
// x [B, T, H, d]. The norm is rms_norm_forward_kernel's, step for step (same lanes, same vector
// width, same float32 sum order and shuffle tree, same two roundings), so its result is bitwise
// the one ops::rms_norm gives; the normalised row is staged in shared memory (exact as float) so
// each lane can read the other half of the row, and the rotation rounds after each product and
// after the sum as ATen's x * cos + cat(-x2, x1) * sin does on 16-bit tensors. Replaces the norm
// kernel and the five elementwise RoPE kernels (neg, cat, mul, mul, add) per tensor.
#pragma once

#include "ops/common/cuda_dtype.cuh"
#include "ops/rms_norm_rotary/rms_norm_rotary_params.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace halo::ops::kernels {

constexpr int kRmsNormRotaryThreads = 256;  // 8 rows (warps) per block

// VEC elements of T per 16-byte access (VEC = 1: scalar fallback for odd sizes/alignment).
template <typename T, int VEC>
struct alignas(sizeof(T) * VEC) RotaryVec {
  T v[VEC];
};

// Vector `i` of a table row: one 16-byte load when the tables allow it, else VEC scalar loads.
// Either way the same values: the table's access width never changes the numerics.
template <typename T, int VEC, bool TABLE_VEC>
__device__ __forceinline__ RotaryVec<T, VEC> load_table(const T* row, int64_t i) {
  if constexpr (TABLE_VEC) {
    return reinterpret_cast<const RotaryVec<T, VEC>*>(row)[i];
  } else {
    RotaryVec<T, VEC> out;
#pragma unroll
    for (int j = 0; j < VEC; ++j) out.v[j] = row[i * VEC + j];
    return out;
  }
}

template <typename T, int VEC, bool TABLE_VEC>
__global__ void rms_norm_rotary_forward_kernel(RmsNormRotaryParams p) {
  constexpr int kWarp = 32, kWarps = kRmsNormRotaryThreads / kWarp;
  __shared__ float stage[kWarps][kRmsNormRotaryMaxDim];
  const int warp = threadIdx.x / kWarp;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  const int lane = threadIdx.x % kWarp;
  if (row >= p.B * p.T * p.H) return;  // whole warps leave together
  const int64_t head = row % p.H, bt = row / p.H, t = bt % p.T, b = bt / p.T;
  const T* x = static_cast<const T*>(p.x) + b * p.x_stride_b + t * p.x_stride_t +
               head * p.x_stride_h;
  const T* w = static_cast<const T*>(p.w);
  const int64_t table_row = b * p.table_stride_b + t * p.d;
  const T* cos = static_cast<const T*>(p.cos) + table_row;
  const T* sin = static_cast<const T*>(p.sin) + table_row;
  T* y = static_cast<T*>(p.y) + row * p.d;
  const int64_t nvec = p.d / VEC;
  using V = RotaryVec<T, VEC>;

  // RMSNorm, as rms_norm_forward_kernel: keep these loops and expressions identical to it (the
  // lane of each element, the order of the float32 sum and `sum += f * f`, which the compiler
  // contracts to the same FMA in both) or the result stops being bitwise the unfused one.
  float sum = 0.f;
  for (int64_t i = lane; i < nvec; i += kWarp) {
    V xv = reinterpret_cast<const V*>(x)[i];
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      float f = to_float(xv.v[j]);
      sum += f * f;
    }
  }
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  const float inv = rsqrtf(sum / static_cast<float>(p.d) + p.eps);

  float* normed_row = stage[warp];
  for (int64_t i = lane; i < nvec; i += kWarp) {
    V xv = reinterpret_cast<const V*>(x)[i];
    V wv = reinterpret_cast<const V*>(w)[i];
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const T normed = from_float<T>(to_float(xv.v[j]) * inv);
      // The norm's output in T (what ops::rms_norm stores), kept exactly as a float.
      normed_row[i * VEC + j] = to_float(from_float<T>(to_float(wv.v[j]) * to_float(normed)));
    }
  }
  __syncwarp();

  // RoPE, rotate-half: out_e = T(T(y_e * cos_e) + T(rot_e * sin_e)), rot_e = -y_{e+d/2} in the
  // first half, y_{e-d/2} in the second. Explicit _rn operations: float32 must not contract the
  // products and the sum into an FMA (ATen runs them as three kernels, rounding each result).
  const int64_t half = p.d / 2;
  for (int64_t i = lane; i < nvec; i += kWarp) {
    const V cv = load_table<T, VEC, TABLE_VEC>(cos, i);
    const V sv = load_table<T, VEC, TABLE_VEC>(sin, i);
    V yv;
#pragma unroll
    for (int j = 0; j < VEC; ++j) {
      const int64_t e = i * VEC + j;
      const float rot = e < half ? -normed_row[e + half] : normed_row[e - half];
      const T a = from_float<T>(__fmul_rn(normed_row[e], to_float(cv.v[j])));
      const T r = from_float<T>(__fmul_rn(rot, to_float(sv.v[j])));
      yv.v[j] = from_float<T>(__fadd_rn(to_float(a), to_float(r)));
    }
    reinterpret_cast<V*>(y)[i] = yv;
  }
}

}  // namespace halo::ops::kernels
