// Lightning Attention CUDA kernels (no LibTorch headers):
//   lightning_sweep_kernel   the chunked recurrence of LightningSweepParams: the forward and the
//                            three backward passes; one CTA per (sequence, head, Dz slice of W
//                            columns) walks its sequence chunk by chunk, the [Dxy, W] slice of the
//                            state in shared memory (float32), so no per-chunk state ever goes to
//                            global memory; bfloat16 / float16 run their four small matmuls per
//                            chunk on tensor cores (WMMA 16x16x16, float32 accumulation),
//                            float32 runs them as plain FMA loops (exact float32, the 1e-4
//                            tolerance rules out TF32).
//   lightning_decode_kernel  one step (T = 1) with a state: S' = a S + k^T v, o = scale q S'.
//
// Per chunk of C rows (r: output row, r2: input row, processing order), in smem:
//   a) P = X Y^T                      [C, C] float32   (rows r2 > r are never read)
//   b) Pb = P * a^(r - r2) (r2 <= r)  [C, C] in T     Zk = a^(L-1-r2+e_out) * update_scale * Z
//   c) O1 = Pb Z, O2 = X Sb           [C, W] float32   d) S = a^L S + Y^T Zk   [Dxy, W] float32
//   e) out = out_scale O1 + state_out_scale a^(r + e_in) O2 -> global;  Sb = T(S)
// The next chunk's X, Y, Z are fetched with cp.async while the current one computes (16-bit
// types; float32 has no room for two buffers at W = 16 and is not the speed path).
#pragma once

#include "ops/common/cuda_dtype.cuh"
#include "ops/lightning_attention/lightning_attention_params.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

namespace halo::ops::kernels {

// Shared-memory layout of one sweep CTA; every region starts 128-byte aligned and every row is
// padded (8 16-bit or 4 float elements) against bank conflicts while keeping WMMA's 32-byte
// tile alignment.
template <typename T, int DXY, int W, int C, int NBUF>
struct SweepSmem {
  static constexpr int kPadT = 16 / sizeof(T);
  static constexpr int kPadF = 4;
  static constexpr int kLdXY = DXY + kPadT;  // X, Y rows
  static constexpr int kLdZ = W + kPadT;     // Z, Zk rows
  static constexpr int kLdP = C + kPadF;     // P (float)
  static constexpr int kLdPb = C + kPadT;    // Pb (T)
  static constexpr int kLdO = W + kPadF;     // O1, O2, S (float)
  static constexpr int kLdSb = W + kPadT;    // Sb (T)

  static constexpr size_t align(size_t n) { return (n + 127) / 128 * 128; }
  static constexpr size_t kX = 0;
  static constexpr size_t kY = kX + align(sizeof(T) * NBUF * C * kLdXY);
  static constexpr size_t kZ = kY + align(sizeof(T) * NBUF * C * kLdXY);
  static constexpr size_t kScratch = kZ + align(sizeof(T) * NBUF * C * kLdZ);
  static constexpr size_t kScratchBytes =
      sizeof(float) * (C * kLdP > 2 * C * kLdO ? C * kLdP : 2 * C * kLdO);
  static constexpr size_t kPb = kScratch + align(kScratchBytes);
  static constexpr size_t kS = kPb + align(sizeof(T) * C * kLdPb);
  static constexpr size_t kSb = kS + align(sizeof(float) * DXY * kLdO);
  static constexpr size_t kZk = kSb + align(sizeof(T) * DXY * kLdSb);
  static constexpr size_t kPow = kZk + align(sizeof(T) * C * kLdZ);
  static constexpr size_t kBytes = kPow + align(sizeof(float) * (C + 2));
};

// 16-byte copy global -> shared, asynchronous (sm_80+).
__device__ __forceinline__ void cp_async16(void* smem, const void* gmem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Loads `rows_valid` rows of COLS elements of T (row r at src + time(r) * time_stride) into a
// [C, LD] smem tile; rows past rows_valid are zero-filled, so partial chunks need no masks.
template <typename T, int C, int COLS, int LD, int NT>
__device__ __forceinline__ void load_rows(T* dst, const T* src, int64_t time_stride,
                                          int64_t first_time, int64_t time_step, int rows_valid) {
  constexpr int kVecPerRow = COLS * static_cast<int>(sizeof(T)) / 16;
  constexpr int kElemsPerVec = 16 / sizeof(T);
  for (int idx = threadIdx.x; idx < C * kVecPerRow; idx += NT) {
    const int r = idx / kVecPerRow, v = idx % kVecPerRow;
    T* d = dst + r * LD + v * kElemsPerVec;
    if (r < rows_valid) {
      cp_async16(d, src + (first_time + time_step * r) * time_stride + v * kElemsPerVec);
    } else {
      *reinterpret_cast<uint4*>(d) = make_uint4(0, 0, 0, 0);
    }
  }
}

template <typename T, int DXY, int W, int C, int NWARPS, int NBUF>
__global__ void __launch_bounds__(NWARPS * 32)
    lightning_sweep_kernel(const LightningSweepParams p) {
  namespace wmma = nvcuda::wmma;
  using L = SweepSmem<T, DXY, W, C, NBUF>;
  constexpr int NT = NWARPS * 32;
  constexpr bool kTensorCores = !std::is_same<T, float>::value;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sx = reinterpret_cast<T*>(smem + L::kX);
  T* sy = reinterpret_cast<T*>(smem + L::kY);
  T* sz = reinterpret_cast<T*>(smem + L::kZ);
  float* scratch = reinterpret_cast<float*>(smem + L::kScratch);  // P, then O1 | O2
  T* pb = reinterpret_cast<T*>(smem + L::kPb);
  float* ss = reinterpret_cast<float*>(smem + L::kS);
  T* sb = reinterpret_cast<T*>(smem + L::kSb);
  T* zk = reinterpret_cast<T*>(smem + L::kZk);
  float* pw = reinterpret_cast<float*>(smem + L::kPow);
  float* o1 = scratch;
  float* o2 = scratch + C * L::kLdO;

  const int tid = threadIdx.x, warp = tid / 32;
  const int64_t num_slices = p.dim_z / W;
  const int64_t slice = blockIdx.x % num_slices;
  const int64_t h = (blockIdx.x / num_slices) % p.heads;
  const int64_t n = blockIdx.x / (num_slices * p.heads);
  const int64_t col0 = slice * W;

  // The sequence: rows [start, start + len) of batch entry b.
  int64_t b = n, start = 0, len = p.seqlen;
  if (p.cu_seqlens != nullptr) {
    b = 0;
    start = p.cu_seqlens[n];
    len = p.cu_seqlens[n + 1] - start;
  }
  const T* xb = static_cast<const T*>(p.x) + b * p.x_batch_stride + h * p.x_head_stride;
  const T* yb = static_cast<const T*>(p.y) + b * p.y_batch_stride + h * p.y_head_stride;
  const T* zb = static_cast<const T*>(p.z) + b * p.z_batch_stride + h * p.z_head_stride + col0;
  T* outb = static_cast<T*>(p.out) + b * p.out_batch_stride + h * p.out_head_stride + col0;
  const int64_t time_step = p.reverse ? -1 : 1;
  auto first_time = [&](int64_t chunk) {  // time of processing row 0 of `chunk`
    return p.reverse ? start + len - 1 - chunk * C : start + chunk * C;
  };
  const int64_t num_chunks = (len + C - 1) / C;

  // Decay powers a^i, i = 0..C+1, and the entering state.
  const float lambda = p.decay[h];
  for (int i = tid; i < C + 2; i += NT) pw[i] = expf(-lambda * static_cast<float>(i));
  const int64_t state_base = (n * p.heads + h) * p.dim_xy * p.dim_z;
  for (int idx = tid; idx < DXY * W; idx += NT) {
    const int i = idx / W, j = idx % W;
    float s = 0.f;
    if (p.initial_state != nullptr) {
      s = p.initial_state[state_base + i * p.initial_row_stride + (col0 + j) * p.initial_col_stride];
    }
    ss[i * L::kLdO + j] = s;
    sb[i * L::kLdSb + j] = from_float<T>(s);
  }

  auto fetch = [&](int64_t chunk, int buf) {
    const int64_t left = len - chunk * C;
    const int rows = static_cast<int>(left < C ? left : C);
    const int64_t t0 = first_time(chunk);
    load_rows<T, C, DXY, L::kLdXY, NT>(sx + buf * C * L::kLdXY, xb, p.x_time_stride, t0, time_step,
                                       rows);
    load_rows<T, C, DXY, L::kLdXY, NT>(sy + buf * C * L::kLdXY, yb, p.y_time_stride, t0, time_step,
                                       rows);
    load_rows<T, C, W, L::kLdZ, NT>(sz + buf * C * L::kLdZ, zb, p.z_time_stride, t0, time_step,
                                    rows);
    cp_async_commit();
  };
  if (num_chunks > 0) fetch(0, 0);

  for (int64_t chunk = 0; chunk < num_chunks; ++chunk) {
    const int buf = NBUF == 2 ? static_cast<int>(chunk & 1) : 0;
    if (NBUF == 1 && chunk > 0) fetch(chunk, 0);  // the previous chunk's reads ended at a barrier
    if (NBUF == 2 && chunk + 1 < num_chunks) {
      fetch(chunk + 1, buf ^ 1);
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const T* X = sx + buf * C * L::kLdXY;
    const T* Y = sy + buf * C * L::kLdXY;
    const T* Z = sz + buf * C * L::kLdZ;
    const int64_t left = len - chunk * C;
    const int rows = static_cast<int>(left < C ? left : C);

    // a) P = X Y^T on and below the diagonal.
    if constexpr (kTensorCores) {
      constexpr int kTiles = C / 16;
      for (int tile = warp; tile < kTiles * kTiles; tile += NWARPS) {
        const int ti = tile / kTiles, tj = tile % kTiles;
        if (tj > ti) continue;
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        wmma::fill_fragment(acc, 0.f);
#pragma unroll
        for (int kk = 0; kk < DXY / 16; ++kk) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
          wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fb;
          wmma::load_matrix_sync(fa, X + ti * 16 * L::kLdXY + kk * 16, L::kLdXY);
          wmma::load_matrix_sync(fb, Y + tj * 16 * L::kLdXY + kk * 16, L::kLdXY);
          wmma::mma_sync(acc, fa, fb, acc);
        }
        wmma::store_matrix_sync(scratch + ti * 16 * L::kLdP + tj * 16, acc, L::kLdP,
                                wmma::mem_row_major);
      }
    } else {
      for (int idx = tid; idx < C * C; idx += NT) {
        const int r = idx / C, r2 = idx % C;
        if (r2 > r) continue;
        float acc = 0.f;
#pragma unroll 8
        for (int kk = 0; kk < DXY; ++kk) {
          acc += to_float(X[r * L::kLdXY + kk]) * to_float(Y[r2 * L::kLdXY + kk]);
        }
        scratch[r * L::kLdP + r2] = acc;
      }
    }
    __syncthreads();

    // b) decay and mask P; scale Z rows for the state update.
    for (int idx = tid; idx < C * C; idx += NT) {
      const int r = idx / C, r2 = idx % C;
      const float v = r2 <= r ? scratch[r * L::kLdP + r2] * pw[r - r2] : 0.f;
      pb[r * L::kLdPb + r2] = from_float<T>(v);
    }
    for (int idx = tid; idx < C * W; idx += NT) {
      const int r = idx / W, j = idx % W;
      const float f =
          r < rows ? pw[rows - 1 - r + p.update_exponent] * p.update_scale : 0.f;
      zk[r * L::kLdZ + j] = from_float<T>(to_float(Z[r * L::kLdZ + j]) * f);
    }
    __syncthreads();

    // c) O1 = Pb Z, O2 = X Sb;  d) S = a^L S + Y^T Zk.
    const float a_chunk = pw[rows];
    if constexpr (kTensorCores) {
      constexpr int kRowTiles = C / 16, kColTiles = W / 16, kStateTiles = DXY / 16;
      constexpr int kOut = kRowTiles * kColTiles;
      for (int tile = warp; tile < 2 * kOut + kStateTiles * kColTiles; tile += NWARPS) {
        wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
        if (tile < kOut) {  // O1 tile (ti, tj): causal, so k-tiles beyond ti are zero
          const int ti = tile / kColTiles, tj = tile % kColTiles;
          wmma::fill_fragment(acc, 0.f);
          for (int kk = 0; kk <= ti; ++kk) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
            wmma::load_matrix_sync(fa, pb + ti * 16 * L::kLdPb + kk * 16, L::kLdPb);
            wmma::load_matrix_sync(fb, Z + kk * 16 * L::kLdZ + tj * 16, L::kLdZ);
            wmma::mma_sync(acc, fa, fb, acc);
          }
          wmma::store_matrix_sync(o1 + ti * 16 * L::kLdO + tj * 16, acc, L::kLdO,
                                  wmma::mem_row_major);
        } else if (tile < 2 * kOut) {  // O2 tile
          const int t = tile - kOut, ti = t / kColTiles, tj = t % kColTiles;
          wmma::fill_fragment(acc, 0.f);
#pragma unroll
          for (int kk = 0; kk < DXY / 16; ++kk) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
            wmma::load_matrix_sync(fa, X + ti * 16 * L::kLdXY + kk * 16, L::kLdXY);
            wmma::load_matrix_sync(fb, sb + kk * 16 * L::kLdSb + tj * 16, L::kLdSb);
            wmma::mma_sync(acc, fa, fb, acc);
          }
          wmma::store_matrix_sync(o2 + ti * 16 * L::kLdO + tj * 16, acc, L::kLdO,
                                  wmma::mem_row_major);
        } else {  // state tile (si, tj): rows si*16.. of S
          const int t = tile - 2 * kOut, si = t / kColTiles, tj = t % kColTiles;
          float* s_tile = ss + si * 16 * L::kLdO + tj * 16;
          wmma::load_matrix_sync(acc, s_tile, L::kLdO, wmma::mem_row_major);
#pragma unroll
          for (int e = 0; e < acc.num_elements; ++e) acc.x[e] *= a_chunk;
#pragma unroll
          for (int kk = 0; kk < C / 16; ++kk) {
            // A = Y^T: element (m, k) = Y[k][m], i.e. Y read column-major.
            wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> fa;
            wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fb;
            wmma::load_matrix_sync(fa, Y + kk * 16 * L::kLdXY + si * 16, L::kLdXY);
            wmma::load_matrix_sync(fb, zk + kk * 16 * L::kLdZ + tj * 16, L::kLdZ);
            wmma::mma_sync(acc, fa, fb, acc);
          }
          wmma::store_matrix_sync(s_tile, acc, L::kLdO, wmma::mem_row_major);
        }
      }
    } else {
      for (int idx = tid; idx < C * W; idx += NT) {
        const int r = idx / W, j = idx % W;
        float a1 = 0.f, a2 = 0.f;
        for (int r2 = 0; r2 <= r; ++r2) a1 += to_float(pb[r * L::kLdPb + r2]) * to_float(Z[r2 * L::kLdZ + j]);
        for (int kk = 0; kk < DXY; ++kk) a2 += to_float(X[r * L::kLdXY + kk]) * to_float(sb[kk * L::kLdSb + j]);
        o1[r * L::kLdO + j] = a1;
        o2[r * L::kLdO + j] = a2;
      }
      for (int idx = tid; idx < DXY * W; idx += NT) {
        const int i = idx / W, j = idx % W;
        float acc = ss[i * L::kLdO + j] * a_chunk;
        for (int r2 = 0; r2 < C; ++r2) acc += to_float(Y[r2 * L::kLdXY + i]) * to_float(zk[r2 * L::kLdZ + j]);
        ss[i * L::kLdO + j] = acc;
      }
    }
    __syncthreads();

    // e) outputs of this chunk; the bf16/f16 copy of the state for the next chunk's O2.
    const int64_t t0 = first_time(chunk);
    for (int idx = tid; idx < rows * W; idx += NT) {
      const int r = idx / W, j = idx % W;
      const float v = p.out_scale * o1[r * L::kLdO + j] +
                      p.state_out_scale * pw[r + p.in_exponent] * o2[r * L::kLdO + j];
      outb[(t0 + time_step * r) * p.out_time_stride + j] = from_float<T>(v);
    }
    for (int idx = tid; idx < DXY * W; idx += NT) {
      const int i = idx / W, j = idx % W;
      sb[i * L::kLdSb + j] = from_float<T>(ss[i * L::kLdO + j]);
    }
    __syncthreads();
  }

  if (p.final_state != nullptr) {
    for (int idx = tid; idx < DXY * W; idx += NT) {
      const int i = idx / W, j = idx % W;
      p.final_state[state_base + i * p.final_row_stride + (col0 + j) * p.final_col_stride] =
          ss[i * L::kLdO + j];
    }
  }
}

// One block per (sequence, head); thread j owns value columns j, j + blockDim, ...; q and k of
// the step are staged in smem as float32. S and S' are [Dk, Dv] row-major float32.
template <typename T>
__global__ void lightning_decode_kernel(const LightningAttentionParams p) {
  extern __shared__ float qk[];  // [2 * Dk]
  const int64_t n = blockIdx.x / p.heads, h = blockIdx.x % p.heads;
  const T* q = static_cast<const T*>(p.q) + n * p.q_batch_stride + h * p.q_head_stride;
  const T* k = static_cast<const T*>(p.k) + n * p.k_batch_stride + h * p.k_head_stride;
  const T* v = static_cast<const T*>(p.v) + n * p.v_batch_stride + h * p.v_head_stride;
  for (int64_t i = threadIdx.x; i < p.dim_k; i += blockDim.x) {
    qk[i] = to_float(q[i]);
    qk[p.dim_k + i] = to_float(k[i]);
  }
  __syncthreads();
  const float a = expf(-p.decay[h]);
  const int64_t base = (n * p.heads + h) * p.dim_k * p.dim_v;
  const float* s_in = static_cast<const float*>(p.initial_state);
  float* s_out = static_cast<float*>(p.final_state);
  T* o = static_cast<T*>(p.o) + (n * p.heads + h) * p.dim_v;  // o is [B, 1, H, Dv] contiguous
  for (int64_t j = threadIdx.x; j < p.dim_v; j += blockDim.x) {
    const float vj = to_float(v[j]);
    float acc = 0.f;
    for (int64_t i = 0; i < p.dim_k; ++i) {
      const float s_prev = s_in != nullptr ? s_in[base + i * p.dim_v + j] : 0.f;
      const float s = a * s_prev + qk[p.dim_k + i] * vj;
      s_out[base + i * p.dim_v + j] = s;
      acc += qk[i] * s;
    }
    o[j] = from_float<T>(p.scale * acc);
  }
}

}  // namespace halo::ops::kernels
