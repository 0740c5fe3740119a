// Decode linear kernel: y[m, n] = sum_k x[m, k] W[n, k] (+ b[n]) for 1-8 rows of x in bf16/fp16,
// float32 accumulation, one rounding to the storage dtype (as cuBLAS's epilogue). A decode step
// at batch 1 is a chain of such products and reads every weight once: the work is streaming W
// at the memory bandwidth. cuBLAS's kernels for them (nvjet 64x8, split-K for K = 6144) reached
// about 1.7 TB/s over the 2.8 GB of a Qwen3-1.7B shape's layer weights on an H100 (1.61 ms of a
// 3.2 ms step at 4K, profiled 2026-12-07), against 3.35 TB/s peak.
//
// Layout: a block of 8 warps stages x [rows, K] in shared memory once; each warp then takes whole
// output features n (rows of W) in a grid-stride loop, its lanes reading W[n, :] in 16-byte
// vectors, 4 independent loads in flight per lane, so an SM holds 8 warps x 32 lanes x 64 bytes
// of W in flight. Each loaded vector of W serves every row of x. A warp shuffle sums the lanes.
#pragma once

#include "ops/common/cuda_dtype.cuh"
#include "ops/decode_linear/decode_linear_params.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

namespace halo::ops::kernels {

constexpr int kDecodeLinearThreads = 256;

template <typename T, int M>
__global__ void __launch_bounds__(kDecodeLinearThreads) decode_linear_kernel(DecodeLinearParams p) {
  constexpr int kWarp = 32, kWarps = kDecodeLinearThreads / kWarp, kUnroll = 4;
  constexpr int kVec = 16 / sizeof(T);  // elements per 16-byte vector
  extern __shared__ uint4 xs[];         // [M, K / kVec]
  const int64_t nvec = p.in_features / kVec;
  for (int64_t i = threadIdx.x; i < M * nvec; i += kDecodeLinearThreads) {
    const int64_t m = i / nvec, c = i % nvec;
    xs[i] = reinterpret_cast<const uint4*>(static_cast<const T*>(p.x) + m * p.x_row_stride)[c];
  }
  __syncthreads();

  const int warp = threadIdx.x / kWarp, lane = threadIdx.x % kWarp;
  const T* bias = static_cast<const T*>(p.bias);
  T* y = static_cast<T*>(p.y);
  for (int64_t n = static_cast<int64_t>(blockIdx.x) * kWarps + warp; n < p.out_features;
       n += static_cast<int64_t>(gridDim.x) * kWarps) {
    const uint4* wrow =
        reinterpret_cast<const uint4*>(static_cast<const T*>(p.w) + n * p.in_features);
    float acc[M];
#pragma unroll
    for (int m = 0; m < M; ++m) acc[m] = 0.f;
    for (int64_t c0 = lane; c0 < nvec; c0 += kWarp * kUnroll) {
      uint4 wv[kUnroll];
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {  // the loads first: kUnroll in flight
        const int64_t c = c0 + u * kWarp;
        wv[u] = c < nvec ? __ldcs(wrow + c) : make_uint4(0u, 0u, 0u, 0u);
      }
#pragma unroll
      for (int u = 0; u < kUnroll; ++u) {
        const int64_t c = c0 + u * kWarp;
        if (c >= nvec) break;
        const T* w8 = reinterpret_cast<const T*>(&wv[u]);
#pragma unroll
        for (int m = 0; m < M; ++m) {
          const uint4 xv = xs[m * nvec + c];
          const T* x8 = reinterpret_cast<const T*>(&xv);
#pragma unroll
          for (int j = 0; j < kVec; ++j) acc[m] = fmaf(to_float(w8[j]), to_float(x8[j]), acc[m]);
        }
      }
    }
#pragma unroll
    for (int m = 0; m < M; ++m) {
#pragma unroll
      for (int offset = kWarp / 2; offset > 0; offset /= 2) {
        acc[m] += __shfl_xor_sync(0xffffffffu, acc[m], offset);
      }
    }
    if (lane == 0) {
      const float b = bias ? to_float(bias[n]) : 0.f;
#pragma unroll
      for (int m = 0; m < M; ++m) y[m * p.out_features + n] = from_float<T>(acc[m] + b);
    }
  }
}

}  // namespace halo::ops::kernels
