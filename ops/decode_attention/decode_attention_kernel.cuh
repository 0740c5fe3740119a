// Split-KV decode attention (flash-decoding): one query token per row attends to the first
// seqlens[b] keys of its cache row. The grid is (splits, Hkv, N): each CTA reads one KV head's
// keys and values of one slice of the sequence exactly once and serves all G = Hq / Hkv query
// heads of that KV head (GQA), so at batch 1 with 8 KV heads the card still gets hundreds of
// CTAs instead of 8. Lengths are read on the device (no host copy, so one CUDA graph serves every
// length), and a slice past a row's length does no work.
//
// Inside a CTA (4 warps): a key is read by `lanes` = D / VEC lanes with 16-byte loads (D = 128
// bf16: 16 lanes, two keys per warp load), 4 keys per thread in flight for K and for V; scores
// are reduced with shuffles and folded into a running (max, sum, output) per query head in
// float32 with exp2 (log2(e) and the logit scale, HyPE's per-row factor included, are folded
// into q once). Warps and then slices are merged by their log-sum-exp.
#pragma once

#include "ops/common/cuda_dtype.cuh"
#include "ops/decode_attention/decode_attention_params.h"

#include <cuda_runtime.h>

#include <cstdint>

namespace halo::ops::kernels {

constexpr int kDecodeWarps = 4;
constexpr int kDecodeUnroll = 4;  // keys per thread per iteration, for K and for V
constexpr int kDecodeMaxD = 256;
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ uint4 load16(const void* p) {
  return __ldg(reinterpret_cast<const uint4*>(p));
}

// Keys per CTA iteration for a head dim: a multiple the slices are rounded to.
template <typename T>
__host__ __device__ inline int64_t decode_keys_per_iteration(int64_t D) {
  const int64_t lanes = D / (16 / static_cast<int64_t>(sizeof(T)));
  return kDecodeWarps * (32 / lanes) * kDecodeUnroll;
}

template <typename T, int G>
__global__ void __launch_bounds__(kDecodeWarps * 32)
    decode_attention_split_kernel(DecodeAttentionParams p) {
  constexpr int VEC = 16 / sizeof(T);
  const int split = blockIdx.x, hkv = blockIdx.y;
  const int64_t b = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int lanes = static_cast<int>(p.D / VEC);  // lanes per key (a power of two <= 32)
  const int keys_per_load = 32 / lanes;
  const int sub = lane / lanes, part = lane % lanes;

  // The row and its length; a row outside the cache reads nothing (output 0), a length outside
  // [0, C] is clamped: never a read outside the cache.
  const int64_t row = p.rows[b];
  int64_t len = p.seqlens[b];
  len = (row < 0 || row >= p.R) ? 0 : (len < 0 ? 0 : (len > p.C ? p.C : len));
  const int64_t step = decode_keys_per_iteration<T>(p.D);
  int64_t per = (len + p.splits - 1) / p.splits;
  per = (per + step - 1) / step * step;
  const int64_t begin = split * per;
  const int64_t end = begin + per < len ? begin + per : len;

  const T* kbase =
      static_cast<const T*>(p.k) + row * p.row_stride + hkv * p.head_stride + part * VEC;
  const T* vbase =
      static_cast<const T*>(p.v) + row * p.row_stride + hkv * p.head_stride + part * VEC;

  const float qs = p.scale * kLog2e * (p.query_scale ? p.query_scale[b] : 1.0f);
  float q[G][VEC];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    const T* qp = static_cast<const T*>(p.q) + (b * p.Hq + hkv * G + g) * p.D + part * VEC;
    const uint4 raw = load16(qp);
    const T* e = reinterpret_cast<const T*>(&raw);
#pragma unroll
    for (int j = 0; j < VEC; ++j) q[g][j] = to_float(e[j]) * qs;
  }

  float m[G], l[G], acc[G][VEC];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.f;
#pragma unroll
    for (int j = 0; j < VEC; ++j) acc[g][j] = 0.f;
  }

  for (int64_t kb = begin + static_cast<int64_t>(warp) * keys_per_load * kDecodeUnroll; kb < end;
       kb += step) {
    uint4 kr[kDecodeUnroll], vr[kDecodeUnroll];
    bool ok[kDecodeUnroll];
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; ++u) {
      const int64_t key = kb + u * keys_per_load + sub;
      ok[u] = key < end;
      if (ok[u]) {
        kr[u] = load16(kbase + key * p.token_stride);
        vr[u] = load16(vbase + key * p.token_stride);
      } else {
        kr[u] = vr[u] = make_uint4(0, 0, 0, 0);
      }
    }
    float s[kDecodeUnroll][G];
#pragma unroll
    for (int u = 0; u < kDecodeUnroll; ++u) {
      const T* ke = reinterpret_cast<const T*>(&kr[u]);
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < VEC; ++j) dot += q[g][j] * to_float(ke[j]);
        for (int off = lanes / 2; off > 0; off /= 2) dot += __shfl_xor_sync(0xffffffffu, dot, off);
        s[u][g] = ok[u] ? dot : -INFINITY;
      }
    }
#pragma unroll
    for (int g = 0; g < G; ++g) {
      float mc = s[0][g];
#pragma unroll
      for (int u = 1; u < kDecodeUnroll; ++u) mc = fmaxf(mc, s[u][g]);
      for (int off = lanes; off < 32; off *= 2)
        mc = fmaxf(mc, __shfl_xor_sync(0xffffffffu, mc, off));
      const float mn = fmaxf(m[g], mc);  // finite: key kb is < end
      const float alpha = exp2f(m[g] - mn);
      l[g] *= alpha;
#pragma unroll
      for (int j = 0; j < VEC; ++j) acc[g][j] *= alpha;
#pragma unroll
      for (int u = 0; u < kDecodeUnroll; ++u) {
        const float pr = exp2f(s[u][g] - mn);  // 0 for keys past the end
        const T* ve = reinterpret_cast<const T*>(&vr[u]);
        l[g] += pr;
#pragma unroll
        for (int j = 0; j < VEC; ++j) acc[g][j] += pr * to_float(ve[j]);
      }
      m[g] = mn;
    }
  }

  // Lanes of one part (the same dims of different keys) hold partial sums under one max.
#pragma unroll
  for (int g = 0; g < G; ++g) {
    for (int off = lanes; off < 32; off *= 2) {
      l[g] += __shfl_xor_sync(0xffffffffu, l[g], off);
#pragma unroll
      for (int j = 0; j < VEC; ++j) acc[g][j] += __shfl_xor_sync(0xffffffffu, acc[g][j], off);
    }
  }

  __shared__ float sm_m[kDecodeWarps][G], sm_l[kDecodeWarps][G];
  __shared__ float sm_acc[kDecodeWarps][G][kDecodeMaxD];
  if (sub == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
#pragma unroll
      for (int j = 0; j < VEC; ++j) sm_acc[warp][g][part * VEC + j] = acc[g][j];
    }
  }
  if (lane == 0) {
#pragma unroll
    for (int g = 0; g < G; ++g) {
      sm_m[warp][g] = m[g];
      sm_l[warp][g] = l[g];
    }
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < G * p.D; idx += blockDim.x) {
    const int g = idx / static_cast<int>(p.D), d = idx % static_cast<int>(p.D);
    float M = -INFINITY;
#pragma unroll
    for (int w = 0; w < kDecodeWarps; ++w) M = fmaxf(M, sm_m[w][g]);
    float L = 0.f, O = 0.f;
    if (M != -INFINITY) {
#pragma unroll
      for (int w = 0; w < kDecodeWarps; ++w) {
        const float f = exp2f(sm_m[w][g] - M);
        L += sm_l[w][g] * f;
        O += sm_acc[w][g][d] * f;
      }
    }
    const int64_t bh = b * p.Hq + hkv * G + g;
    const float out = L > 0.f ? O / L : 0.f;
    if (p.splits == 1) {
      static_cast<T*>(p.o)[bh * p.D + d] = from_float<T>(out);
    } else {
      p.partial_o[(bh * p.splits + split) * p.D + d] = out;
      if (d == 0) p.partial_lse[bh * p.splits + split] = L > 0.f ? M + log2f(L) : -INFINITY;
    }
  }
}

// Merges the slices of one (row, query head): weights 2^(lse_s - max) over the slices.
template <typename T>
__global__ void decode_attention_combine_kernel(DecodeAttentionParams p) {
  const int64_t bh = blockIdx.x;
  const float* lse = p.partial_lse + bh * p.splits;
  float M = -INFINITY;
  for (int s = 0; s < p.splits; ++s) M = fmaxf(M, lse[s]);
  for (int d = threadIdx.x; d < p.D; d += blockDim.x) {
    float num = 0.f, den = 0.f;
    if (M != -INFINITY) {
      for (int s = 0; s < p.splits; ++s) {
        const float w = exp2f(lse[s] - M);
        den += w;
        num += w * p.partial_o[(bh * p.splits + s) * p.D + d];
      }
    }
    static_cast<T*>(p.o)[bh * p.D + d] = from_float<T>(den > 0.f ? num / den : 0.f);
  }
}

}  // namespace halo::ops::kernels
