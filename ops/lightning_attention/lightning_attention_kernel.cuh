// Lightning Attention CUDA kernels (no LibTorch headers). A sweep (LightningSweepParams: the
// forward and each of the three backward passes) runs as two kernels:
//   lightning_state_kernel_tc / _fma   one CTA per (sequence, head, block of the [Dxy, Dz]
//                            state) walks the sequence chunk by chunk: stores the state entering
//                            each chunk in the workspace (input dtype), then
//                            S = a^L S + Y^T Zk. The only sequential part. _tc keeps the block
//                            in WMMA accumulators (registers); exact float32 (_fma) in smem.
//   lightning_output_kernel  one CTA per (chunk, head, slice of WO output columns), all chunks
//                            at once: P = X Y^T, Pb = P * a^(r - r2) (r2 <= r),
//                            out = out_scale Pb Z + state_out_scale a^(r + e_in) X S_entry;
//                            with TS the entering states are another sweep's, read transposed.
// bfloat16 / float16 run both passes on mma.sync (lightning_attention_mma.cuh), except the
// narrow 64 x 16 WMMA state block for packed sequences too few to fill the GPU (which kernel runs
// for which dtype and shape: the table atop lightning_attention_launch.cu). Float32 runs
// the matmuls as FMA loops (exact float32: the 1e-4 tolerance rules out TF32), or, when the
// caller asks for TF32 (LightningSweepParams::tf32), on tensor cores: the WMMA kernels with
// T = float load float32 tiles and round them to TF32 (WMMA 16x16x8), as fla's Triton kernels
// compute float32 inputs (tl.dot's default input precision).
//   lightning_decode_kernel  one step (T = 1) with a state: S' = a S + k^T v, o = scale q S'.
// Shared helpers (chunk and segment bookkeeping, cp.async, 16-byte vectors) live here too.
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

__host__ __device__ constexpr size_t align128(size_t n) { return (n + 127) / 128 * 128; }

// The WMMA tile of element type T: 16-bit types multiply 16 x 16 x 16 tiles; float32 multiplies
// 16 x 16 x 8 TF32 tiles (values loaded as float32, then rounded to TF32's 10-bit mantissa).
template <typename T>
struct Mma {
  using Elem = T;
  static constexpr int kK = 16;
};
template <>
struct Mma<float> {
  using Elem = nvcuda::wmma::precision::tf32;
  static constexpr int kK = 8;
};
template <typename T>
using AccFrag = nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, Mma<T>::kK, float>;
template <typename T, typename Layout>
using AFrag = nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, Mma<T>::kK,
                                     typename Mma<T>::Elem, Layout>;
template <typename T, typename Layout>
using BFrag = nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, Mma<T>::kK,
                                     typename Mma<T>::Elem, Layout>;

// Loads an A or B tile of T from shared memory (leading dimension ld elements); float32 values
// are rounded to TF32 on the way.
template <typename Frag, typename T>
__device__ __forceinline__ void load_operand(Frag& f, const T* src, int ld) {
  nvcuda::wmma::load_matrix_sync(f, src, static_cast<unsigned>(ld));
  if constexpr (std::is_same<T, float>::value) {
#pragma unroll
    for (int e = 0; e < f.num_elements; ++e) f.x[e] = nvcuda::wmma::__float_to_tf32(f.x[e]);
  }
}

// fn(u, ti, tj) for this warp's tiles of a grid of kTiles 16 x 16 tiles, kColTiles per row:
// tile warp + u * NWARPS (row-major) for u = 0, 1, ... while tiles remain.
template <int kTiles, int kColTiles, int NWARPS, typename Fn>
__device__ __forceinline__ void for_warp_tiles(int warp, Fn&& fn) {
#pragma unroll
  for (int u = 0; u < (kTiles + NWARPS - 1) / NWARPS; ++u) {
    const int tile = warp + u * NWARPS;
    if (tile >= kTiles) break;
    fn(u, tile / kColTiles, tile % kColTiles);
  }
}

// fn(u, r, j) for this thread's elements of a [ROWS, COLS] grid: element tid + u * NT
// (row-major) for u = 0, 1, ... while elements remain.
template <int ROWS, int COLS, int NT, typename Fn>
__device__ __forceinline__ void for_thread_elements(int tid, Fn&& fn) {
#pragma unroll
  for (int u = 0; u < (ROWS * COLS + NT - 1) / NT; ++u) {
    const int idx = tid + u * NT;
    if (idx >= ROWS * COLS) break;
    fn(u, idx / COLS, idx % COLS);
  }
}

// Row paddings (8 16-bit or 4 float elements) against bank conflicts that keep WMMA's 32-byte
// tile alignment; every smem region starts 128-byte aligned.
template <typename T>
struct Pad {
  static constexpr int kT = 16 / sizeof(T);
  static constexpr int kF = 4;
};

// A warp's float32 staging tile, 16 x kStageLd, through which a 16-bit accumulator tile is
// converted on its way to global memory (WMMA stores accumulators only as float).
constexpr int kStageLd = 16 + 4;

// Shared memory of the tensor-core state pass: STAGES buffers of Y [C, RT] and Z [C, W] in
// flight, the decay powers, and (16-bit T) a staging tile per warp for the chunk states (the
// state itself lives in registers).
template <typename T, int RT, int W, int C, int STAGES, int NWARPS>
struct TcStateSmem {
  static constexpr int kLdY = RT + Pad<T>::kT, kLdZ = W + Pad<T>::kT;
  static constexpr size_t kY = 0;
  static constexpr size_t kZ = kY + align128(sizeof(T) * STAGES * C * kLdY);
  static constexpr size_t kPow = kZ + align128(sizeof(T) * STAGES * C * kLdZ);
  static constexpr size_t kStage = kPow + align128(sizeof(float) * (C + 2));
  static constexpr size_t kStageBytes =
      std::is_same<T, float>::value ? 0 : align128(sizeof(float) * NWARPS * 16 * kStageLd);
  static constexpr size_t kBytes = kStage + kStageBytes;
};

// Shared memory of the float32 state pass: STAGES buffers of Y [C, RT] and Z [C, W] in flight.
template <typename T, int RT, int W, int C, int STAGES>
struct StateSmem {
  static constexpr int kLdY = RT + Pad<T>::kT, kLdZ = W + Pad<T>::kT, kLdS = W + Pad<T>::kF;
  static constexpr size_t kY = 0;
  static constexpr size_t kZ = kY + align128(sizeof(T) * STAGES * C * kLdY);
  static constexpr size_t kS = kZ + align128(sizeof(T) * STAGES * C * kLdZ);
  static constexpr size_t kZk = kS + align128(sizeof(float) * RT * kLdS);
  static constexpr size_t kPow = kZk + align128(sizeof(T) * C * kLdZ);
  static constexpr size_t kBytes = kPow + align128(sizeof(float) * (C + 2));
};

// Shared memory of the float32 output pass, in the order the kernel uses it: X [C, kLdX] and Z
// [C, kLdZ] for the whole CTA; region A holds the entering state slice S [DXY, kLdZ] (or its
// transpose St [WO, kLdSt]) until X S is in registers, then Y [C, kLdX], then Pb over Y once P
// is computed; region B holds P [C, kLdP] float, then O1 over it; O2 [C, kLdO] float goes over X
// once X is dead (when it fits). Dxy 128, WO 64: 104 KB, two CTAs per SM (S and Y held at once
// would leave one). 16-bit types run the mma.sync output pass.
template <typename T, int DXY, int WO, int C>
struct OutputSmem {
  static constexpr int kLdX = DXY + Pad<T>::kT, kLdZ = WO + Pad<T>::kT, kLdP = C + Pad<T>::kF,
                       kLdPb = C + Pad<T>::kT, kLdO = WO + Pad<T>::kF, kLdSt = DXY + Pad<T>::kT;
  static_assert(kLdPb <= kLdX, "Pb must fit in Y's space");
  static_assert(std::is_same<T, float>::value, "16-bit types: OutputMmaSmem");
  static constexpr size_t max2(size_t a, size_t b) { return a > b ? a : b; }
  static constexpr size_t kSBytes = sizeof(T) * max2(DXY * kLdZ, WO * kLdSt);
  static constexpr size_t kYBytes = sizeof(T) * C * kLdX;                 // Y, then Pb
  static constexpr size_t kPBytes = sizeof(float) * C * max2(kLdP, kLdO);  // P, then O1
  static constexpr size_t kX = 0;
  static constexpr size_t kA = kX + align128(sizeof(T) * C * kLdX);
  static constexpr size_t kZ = kA + align128(max2(kSBytes, kYBytes));
  static constexpr size_t kB = kZ + align128(sizeof(T) * C * kLdZ);
  static constexpr size_t kS = kA, kY = kA, kP = kB;
  static constexpr size_t kPow = kB + align128(kPBytes);
  // O2 [C, kLdO] float goes over X when it fits (Dxy 128), else after everything (Dxy 64).
  static constexpr bool kO2OverX = sizeof(float) * kLdO <= sizeof(T) * kLdX;
  static constexpr size_t kO2 = kO2OverX ? kX : kPow + align128(sizeof(float) * (C + 2));
  static constexpr size_t kBytes =
      kO2OverX ? kPow + align128(sizeof(float) * (C + 2)) : kO2 + align128(sizeof(float) * C * kLdO);
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

// N consecutive T at src (16-byte aligned, N * sizeof(T) a multiple of 16) as float, and back,
// with 16-byte shared or global accesses: element-wise 2-byte accesses by a warp whose lanes
// sit 16 bytes apart hit the same banks 4 ways (the state pass's Z scaling did 16 of them per
// 8 values).
template <typename T, int N>
union Vec16 {  // N values of T as whole 16-byte words
  static_assert(N * sizeof(T) % 16 == 0, "whole 16-byte vectors");
  static constexpr int kWords = static_cast<int>(N * sizeof(T) / 16);
  uint4 u[kWords];
  T t[N];
};
template <typename T, int N>
__device__ __forceinline__ void load_vec(const T* src, float (&v)[N]) {
  Vec16<T, N> pack;
#pragma unroll
  for (int w = 0; w < pack.kWords; ++w) pack.u[w] = reinterpret_cast<const uint4*>(src)[w];
#pragma unroll
  for (int e = 0; e < N; ++e) v[e] = to_float(pack.t[e]);
}
template <typename T, int N>
__device__ __forceinline__ void store_vec(T* dst, const float (&v)[N]) {
  Vec16<T, N> pack;
#pragma unroll
  for (int e = 0; e < N; ++e) pack.t[e] = from_float<T>(v[e]);
#pragma unroll
  for (int w = 0; w < pack.kWords; ++w) reinterpret_cast<uint4*>(dst)[w] = pack.u[w];
}

// Stores a 16 x 16 float32 accumulator tile as T at dst (rows ld elements apart, 16-byte
// aligned). float32 goes straight from the fragment; 16-bit T through the warp's staging tile
// `stage`, each lane converting half a row (8 values, one 16-byte store).
template <typename T>
__device__ __forceinline__ void store_acc_tile(T* dst, int64_t ld, const AccFrag<T>& acc,
                                               float* stage, int lane) {
  if constexpr (std::is_same<T, float>::value) {
    nvcuda::wmma::store_matrix_sync(dst, acc, static_cast<unsigned>(ld),
                                    nvcuda::wmma::mem_row_major);
  } else {
    nvcuda::wmma::store_matrix_sync(stage, acc, kStageLd, nvcuda::wmma::mem_row_major);
    __syncwarp();
    const int r = lane / 2, c0 = (lane % 2) * 8;
    const float4 a = *reinterpret_cast<const float4*>(stage + r * kStageLd + c0);
    const float4 b = *reinterpret_cast<const float4*>(stage + r * kStageLd + c0 + 4);
    const float v[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
    store_vec(dst + r * ld + c0, v);
    __syncwarp();  // the stage is free for the next tile
  }
}

// Loads `rows_valid` rows of COLS elements of T (row r at src + (first_time + time_step * r) *
// time_stride) into a [ROWS, LD] smem tile; rows past rows_valid are zero-filled, so partial
// chunks need no masks.
template <typename T, int ROWS, int COLS, int LD, int NT>
__device__ __forceinline__ void load_rows(T* dst, const T* src, int64_t time_stride,
                                          int64_t first_time, int64_t time_step, int rows_valid) {
  constexpr int kVecPerRow = COLS * static_cast<int>(sizeof(T)) / 16;
  constexpr int kElemsPerVec = 16 / sizeof(T);
  for (int idx = threadIdx.x; idx < ROWS * kVecPerRow; idx += NT) {
    const int r = idx / kVecPerRow, v = idx % kVecPerRow;
    T* d = dst + r * LD + v * kElemsPerVec;
    if (r < rows_valid) {
      cp_async16(d, src + (first_time + time_step * r) * time_stride + v * kElemsPerVec);
    } else {
      *reinterpret_cast<uint4*>(d) = make_uint4(0, 0, 0, 0);
    }
  }
}

// Where sequence n lives: batch entry b, rows [start, start + len); and its first chunk's number.
struct SeqSpan {
  int64_t b, start, len, first_chunk;
};
__device__ __forceinline__ SeqSpan seq_span(const LightningSweepParams& p, int64_t n, int C) {
  if (p.cu_seqlens == nullptr) {
    return {n, 0, p.seqlen, n * ((p.seqlen + C - 1) / C)};
  }
  return {0, p.cu_seqlens[n], p.cu_seqlens[n + 1] - p.cu_seqlens[n], p.chunk_offsets[n]};
}

// What one state-pass CTA walks: sequence n's segment g (the whole sequence when segments == 1),
// whether it starts from the initial state, and where its final state goes (with strides).
struct StateTask {
  SeqSpan span;
  int64_t n;
  bool from_initial;
  float* final_state;  // the block of this (n or segment, h); nullptr: not written
  int64_t final_row_stride, final_col_stride;
};
__device__ __forceinline__ StateTask state_task(const LightningSweepParams& p, int64_t vn,
                                                int64_t h, int C) {
  const int64_t n = vn / p.segments, g = vn % p.segments;
  const SeqSpan whole = seq_span(p, n, C);
  StateTask t{whole, n, g == 0, nullptr, 0, 0};
  if (p.segments > 1) {
    const int64_t seg_len = p.segment_chunks * C, off = g * seg_len;
    int64_t len = whole.len - off;
    len = len < seg_len ? len : seg_len;
    len = len > 0 ? len : 0;
    t.span.start = p.reverse ? whole.start + whole.len - off - len : whole.start + off;
    t.span.len = len;
    t.span.first_chunk = whole.first_chunk + g * p.segment_chunks;
    t.final_state = p.segment_finals + (vn * p.heads + h) * p.dim_xy * p.dim_z;
    t.final_row_stride = p.dim_z, t.final_col_stride = 1;
  } else if (p.final_state != nullptr) {
    t.final_state = p.final_state + (n * p.heads + h) * p.dim_xy * p.dim_z;
    t.final_row_stride = p.final_row_stride, t.final_col_stride = p.final_col_stride;
  }
  return t;
}

// Time of processing row 0 of chunk c of a sequence, and the step between rows.
__device__ __forceinline__ int64_t chunk_first_time(const LightningSweepParams& p,
                                                    const SeqSpan& s, int64_t c, int C) {
  return p.reverse ? s.start + s.len - 1 - c * C : s.start + c * C;
}

// Rows of chunk c of a span (C, or fewer for the last chunk).
__device__ __forceinline__ int chunk_rows(const SeqSpan& span, int64_t c, int C) {
  const int64_t left = span.len - c * C;
  return static_cast<int>(left < C ? left : C);
}

// What a state-pass CTA owns, shared by both state kernels: its [RT, W] block of the state
// (row0, col0) of head h, the span it walks (StateTask), and the y / z columns it reads.
template <typename T>
struct StateBlock {
  int64_t row0, col0, h, num_chunks, time_step, state_base;
  StateTask task;
  const T* yb;  // y at (batch entry, head, column row0); rows at time * y_time_stride
  const T* zb;  // z at (batch entry, head, column col0)
};
template <typename T, int RT, int W, int C>
__device__ __forceinline__ StateBlock<T> state_block(const LightningSweepParams& p) {
  StateBlock<T> blk;
  const int64_t col_blocks = p.dim_z / W, row_blocks = p.dim_xy / RT;
  int64_t rest = blockIdx.x;
  blk.col0 = (rest % col_blocks) * W;
  rest /= col_blocks;
  blk.row0 = (rest % row_blocks) * RT;
  rest /= row_blocks;
  blk.h = rest % p.heads;
  blk.task = state_task(p, rest / p.heads, blk.h, C);
  const SeqSpan& span = blk.task.span;
  blk.yb = static_cast<const T*>(p.y) + span.b * p.y_batch_stride + blk.h * p.y_head_stride +
           blk.row0;
  blk.zb = static_cast<const T*>(p.z) + span.b * p.z_batch_stride + blk.h * p.z_head_stride +
           blk.col0;
  blk.time_step = p.reverse ? -1 : 1;
  blk.num_chunks = (span.len + C - 1) / C;
  blk.state_base = (blk.task.n * p.heads + blk.h) * p.dim_xy * p.dim_z;
  return blk;
}

// Starts the copies of chunk c's y [C, RT] and z [C, W] rows into pipeline buffer c % STAGES,
// and commits a group (an empty one past the last chunk, so group counts stay uniform).
template <typename T, int RT, int W, int C, int STAGES, int LDY, int LDZ, int NT>
__device__ __forceinline__ void fetch_state_chunk(const LightningSweepParams& p,
                                                  const StateBlock<T>& blk, T* sy, T* sz,
                                                  int64_t c) {
  if (c < blk.num_chunks) {
    const int buf = static_cast<int>(c % STAGES);
    const int rows = chunk_rows(blk.task.span, c, C);
    const int64_t t0 = chunk_first_time(p, blk.task.span, c, C);
    load_rows<T, C, RT, LDY, NT>(sy + buf * C * LDY, blk.yb, p.y_time_stride, t0, blk.time_step,
                                 rows);
    load_rows<T, C, W, LDZ, NT>(sz + buf * C * LDZ, blk.zb, p.z_time_stride, t0, blk.time_step,
                                rows);
  }
  cp_async_commit();
}

// pw[i] = a^i = exp(-lambda i), i = 0..C+1.
template <int C, int NT>
__device__ __forceinline__ void fill_decay_powers(float* pw, float lambda) {
  for (int i = threadIdx.x; i < C + 2; i += NT) pw[i] = expf(-lambda * static_cast<float>(i));
}

// The state pass for float32 (FMA loops, state in smem). One CTA per (sequence, head, block of
// RT state rows, block of W state columns), NWARPS = (RT / 16) * (W / 16) warps; the loads run
// STAGES - 1 chunks ahead.
template <typename T, int RT, int W, int C, int STAGES>
__global__ void __launch_bounds__((RT / 16) * (W / 16) * 32)
    lightning_state_kernel_fma(const LightningSweepParams p) {
  using L = StateSmem<T, RT, W, C, STAGES>;
  constexpr int NT = (RT / 16) * (W / 16) * 32;
  extern __shared__ __align__(128) unsigned char smem[];
  T* sy = reinterpret_cast<T*>(smem + L::kY);
  T* sz = reinterpret_cast<T*>(smem + L::kZ);
  float* ss = reinterpret_cast<float*>(smem + L::kS);
  T* zk = reinterpret_cast<T*>(smem + L::kZk);
  float* pw = reinterpret_cast<float*>(smem + L::kPow);

  const int tid = threadIdx.x;
  const StateBlock<T> blk = state_block<T, RT, W, C>(p);
  const StateTask& task = blk.task;
  const int64_t row0 = blk.row0, col0 = blk.col0, h = blk.h;

  fill_decay_powers<C, NT>(pw, p.decay[h]);
  for (int idx = tid; idx < RT * W; idx += NT) {
    const int i = idx / W, j = idx % W;
    ss[i * L::kLdS + j] =
        task.from_initial && p.initial_state != nullptr
            ? p.initial_state[blk.state_base + (row0 + i) * p.initial_row_stride +
                              (col0 + j) * p.initial_col_stride]
            : 0.f;
  }

  auto fetch = [&](int64_t c) {
    fetch_state_chunk<T, RT, W, C, STAGES, L::kLdY, L::kLdZ, NT>(p, blk, sy, sz, c);
  };
  for (int c = 0; c < STAGES - 1; ++c) fetch(c);

  for (int64_t c = 0; c < blk.num_chunks; ++c) {
    fetch(c + STAGES - 1);  // into the buffer chunk c - 1 used (released by the last barrier)
    cp_async_wait<STAGES - 1>();
    __syncthreads();
    const int buf = static_cast<int>(c % STAGES);
    const T* Y = sy + buf * C * L::kLdY;
    const T* Z = sz + buf * C * L::kLdZ;
    const int rows = chunk_rows(task.span, c, C);

    // The state entering this chunk, for the output pass; Z rows scaled for the update.
    T* entry = static_cast<T*>(p.chunk_states) +
               ((task.span.first_chunk + c) * p.heads + h) * p.dim_xy * p.dim_z + row0 * p.dim_z +
               col0;
    for (int idx = tid; idx < RT * W; idx += NT) {
      const int i = idx / W, j = idx % W;
      entry[i * p.dim_z + j] = from_float<T>(ss[i * L::kLdS + j]);
    }
    for (int idx = tid; idx < C * W; idx += NT) {
      const int r = idx / W, j = idx % W;
      const float f = r < rows ? pw[rows - 1 - r + p.update_exponent] * p.update_scale : 0.f;
      zk[r * L::kLdZ + j] = from_float<T>(to_float(Z[r * L::kLdZ + j]) * f);
    }
    __syncthreads();

    // S = a^L S + Y^T Zk.
    const float a_chunk = pw[rows];
    for (int idx = tid; idx < RT * W; idx += NT) {
      const int i = idx / W, j = idx % W;
      float acc = ss[i * L::kLdS + j] * a_chunk;
      for (int r = 0; r < C; ++r) {
        acc += to_float(Y[r * L::kLdY + i]) * to_float(zk[r * L::kLdZ + j]);
      }
      ss[i * L::kLdS + j] = acc;
    }
    __syncthreads();
  }
  cp_async_wait<0>();

  if (task.final_state != nullptr) {
    for (int idx = tid; idx < RT * W; idx += NT) {
      const int i = idx / W, j = idx % W;
      task.final_state[(row0 + i) * task.final_row_stride + (col0 + j) * task.final_col_stride] =
          ss[i * L::kLdS + j];
    }
  }
}

// The state pass on tensor cores (bfloat16 / float16, and float32 as TF32): the [RT, W] block
// as 16 x 16 tiles held in WMMA accumulators (registers) for the whole walk, kPerWarp tiles per
// warp, all in one column of tiles so that a warp loads each Z operand once per k-step and runs
// its tiles' MMA chains interleaved; one barrier per chunk. Per chunk: wait for the chunk's Y
// and Z (fetched STAGES - 1 chunks ahead), scale the Z rows this thread loaded by
// a^(L-1-r+e) * update_scale in place, barrier, fetch a later chunk into the buffer the previous
// chunk used, store the entering state (in T, see LightningSweepParams::chunk_states), then
// S = a^L S + Y^T Zk. Two geometries (lightning_attention_launch.cu picks): 64 x 64 blocks of
// 4 warps x 4 tiles (TF32), one wave of 512 CTAs at 8 x 2048 x 16 heads x 128 x 128 with at most
// 128 registers a thread (four CTAs per SM; unbounded it took 138: three), each Z operand loaded
// once per k-step for a warp's four interleaved MMA chains; and 64 x 16 blocks of one tile per
// warp (any tensor-core type) for packed sequences too few to fill the GPU. The variants measured
// on the way here are in docs/benchmarks.md.
template <int THREADS>
constexpr int blocks_for_128_registers() {  // the minimum CTAs per SM that caps a thread at 128
  static_assert(THREADS <= 512, "128 registers need at least one CTA of at most 512 threads");
  return 65536 / 128 / THREADS;
}
template <typename T, int RT, int W, int C, int STAGES, int NWARPS>
__global__ void __launch_bounds__(NWARPS * 32, blocks_for_128_registers<NWARPS * 32>())
    lightning_state_kernel_tc(const LightningSweepParams p) {
  namespace wmma = nvcuda::wmma;
  using L = TcStateSmem<T, RT, W, C, STAGES, NWARPS>;
  constexpr int NT = NWARPS * 32, kColTiles = W / 16, kTiles = (RT / 16) * kColTiles,
                kPerWarp = kTiles / NWARPS, K = Mma<T>::kK;
  static_assert(kTiles % NWARPS == 0, "whole tiles per warp");
  static_assert(NWARPS % kColTiles == 0, "a warp's tiles share one column of tiles");
  constexpr int kVecPerRow = W * static_cast<int>(sizeof(T)) / 16, kElemsPerVec = 16 / sizeof(T);
  extern __shared__ __align__(128) unsigned char smem[];
  T* sy = reinterpret_cast<T*>(smem + L::kY);
  T* sz = reinterpret_cast<T*>(smem + L::kZ);
  float* pw = reinterpret_cast<float*>(smem + L::kPow);

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  float* stage = reinterpret_cast<float*>(smem + L::kStage) + warp * 16 * kStageLd;
  const StateBlock<T> blk = state_block<T, RT, W, C>(p);
  const StateTask& task = blk.task;
  const SeqSpan& span = task.span;
  const int64_t row0 = blk.row0, col0 = blk.col0, h = blk.h;
  // This warp's tiles u = 0..kPerWarp-1: tile warp + u * NWARPS of the block, row-major, i.e.
  // row of tiles tile_si(u), column of tiles tj.
  const int tj = warp % kColTiles;
  auto tile_si = [&](int u) { return (warp + u * NWARPS) / kColTiles; };

  fill_decay_powers<C, NT>(pw, p.decay[h]);
  AccFrag<T> acc[kPerWarp];
#pragma unroll
  for (int u = 0; u < kPerWarp; ++u) {
    const int64_t tile_row = row0 + tile_si(u) * 16, tile_col = col0 + tj * 16;
    if (!task.from_initial || p.initial_state == nullptr) {
      wmma::fill_fragment(acc[u], 0.f);
      continue;
    }
    const float* src = p.initial_state + blk.state_base + tile_row * p.initial_row_stride +
                       tile_col * p.initial_col_stride;
    if (p.initial_col_stride == 1) {
      wmma::load_matrix_sync(acc[u], src, static_cast<unsigned>(p.initial_row_stride),
                             wmma::mem_row_major);
    } else {
      wmma::load_matrix_sync(acc[u], src, static_cast<unsigned>(p.initial_col_stride),
                             wmma::mem_col_major);
    }
  }

  auto fetch = [&](int64_t c) {
    fetch_state_chunk<T, RT, W, C, STAGES, L::kLdY, L::kLdZ, NT>(p, blk, sy, sz, c);
  };
  for (int c = 0; c < STAGES - 1; ++c) fetch(c);
  __syncthreads();  // pw

  for (int64_t c = 0; c < blk.num_chunks; ++c) {
    cp_async_wait<STAGES - 2>();  // this thread's copies of chunk c have landed
    const int buf = static_cast<int>(c % STAGES);
    const T* Y = sy + buf * C * L::kLdY;
    T* Z = sz + buf * C * L::kLdZ;
    const int rows = chunk_rows(span, c, C);
    // Scale the Z vectors this thread copied (same indexing as load_rows).
    for (int idx = tid; idx < C * kVecPerRow; idx += NT) {
      const int r = idx / kVecPerRow, v = idx % kVecPerRow;
      if (r >= rows) continue;
      const float f = pw[rows - 1 - r + p.update_exponent] * p.update_scale;
      T* z = Z + r * L::kLdZ + v * kElemsPerVec;
      float zv[kElemsPerVec];
      load_vec(z, zv);
#pragma unroll
      for (int e = 0; e < kElemsPerVec; ++e) zv[e] *= f;
      store_vec(z, zv);
    }
    __syncthreads();
    fetch(c + STAGES - 1);  // into the buffer of chunk c - 1, which every warp is done with

    T* entry = static_cast<T*>(p.chunk_states) +
               ((span.first_chunk + c) * p.heads + h) * p.dim_xy * p.dim_z + row0 * p.dim_z +
               col0;
    const float a_chunk = pw[rows];
#pragma unroll
    for (int u = 0; u < kPerWarp; ++u) {
      store_acc_tile(entry + tile_si(u) * 16 * p.dim_z + tj * 16, p.dim_z, acc[u], stage, lane);
#pragma unroll
      for (int e = 0; e < acc[u].num_elements; ++e) acc[u].x[e] *= a_chunk;
    }
#pragma unroll 2  // fully unrolled, the wide bf16 block spilled 52 bytes at 128 registers
    for (int kk = 0; kk < C / K; ++kk) {
      BFrag<T, wmma::row_major> fb;
      load_operand(fb, Z + kk * K * L::kLdZ + tj * 16, L::kLdZ);
#pragma unroll
      for (int u = 0; u < kPerWarp; ++u) {
        // A = Y^T: element (m, k) = Y[k][m], i.e. Y read column-major.
        AFrag<T, wmma::col_major> fa;
        load_operand(fa, Y + kk * K * L::kLdY + tile_si(u) * 16, L::kLdY);
        wmma::mma_sync(acc[u], fa, fb, acc[u]);
      }
    }
  }
  cp_async_wait<0>();

  if (task.final_state != nullptr) {
#pragma unroll
    for (int u = 0; u < kPerWarp; ++u) {
      float* dst = task.final_state + (row0 + tile_si(u) * 16) * task.final_row_stride +
                   (col0 + tj * 16) * task.final_col_stride;
      if (task.final_col_stride == 1) {
        wmma::store_matrix_sync(dst, acc[u], static_cast<unsigned>(task.final_row_stride),
                                wmma::mem_row_major);
      } else {
        wmma::store_matrix_sync(dst, acc[u], static_cast<unsigned>(task.final_col_stride),
                                wmma::mem_col_major);
      }
    }
  }
}

// What an output-pass CTA (blockIdx.x = (global chunk g, head h, slice of WO output columns),
// slice fastest) computes: its rows and the time of row 0, and where its operands live.
template <typename T>
struct OutputChunk {
  int64_t t0, time_step;
  int rows;      // C, or fewer for a sequence's last chunk
  float lambda;  // the head's decay rate
  const T* xb;   // x at (batch entry, head); row r at (t0 + time_step * r) * x_time_stride
  const T* yb;   // y likewise
  const T* zb;   // z likewise, from column col0
  T* outb;       // out likewise, from column col0
  // The slice of the state entering the chunk: S[:, col0:col0+WO], S[i][j] at entry + i * dim_z
  // + j, or with TS (stored [Dz, Dxy] blocks) rows col0.. of St, S[i][j] at entry + j * dim_xy
  // + i. With segments, the chunk state was computed from the segment's start as if it began at
  // zero: seg_decay * seg_entry (float32, same layout) is to be added; nullptr when not.
  const T* entry;
  const float* seg_entry;
  float seg_decay;
};
template <typename T, int WO, int C, bool TS>
__device__ __forceinline__ OutputChunk<T> output_chunk(const LightningSweepParams& p) {
  const int64_t num_slices = p.dim_z / WO;
  const int64_t slice = blockIdx.x % num_slices;
  const int64_t h = (blockIdx.x / num_slices) % p.heads;
  const int64_t g = blockIdx.x / (num_slices * p.heads);  // global chunk number
  // Its sequence: n with chunk_offsets[n] <= g < chunk_offsets[n + 1] (binary search; empty
  // sequences own no chunk).
  int64_t n;
  if (p.chunk_offsets == nullptr) {
    n = g / ((p.seqlen + C - 1) / C);
  } else {
    int64_t lo = 0, hi = p.num_seqs;  // invariant: offsets[lo] <= g < offsets[hi]
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (p.chunk_offsets[mid] <= g) lo = mid; else hi = mid;
    }
    n = lo;
  }
  const SeqSpan span = seq_span(p, n, C);
  const int64_t c = g - span.first_chunk, col0 = slice * WO;
  OutputChunk<T> oc;
  oc.t0 = chunk_first_time(p, span, c, C);
  oc.time_step = p.reverse ? -1 : 1;
  oc.rows = chunk_rows(span, c, C);
  oc.lambda = p.decay[h];
  oc.xb = static_cast<const T*>(p.x) + span.b * p.x_batch_stride + h * p.x_head_stride;
  oc.yb = static_cast<const T*>(p.y) + span.b * p.y_batch_stride + h * p.y_head_stride;
  oc.zb = static_cast<const T*>(p.z) + span.b * p.z_batch_stride + h * p.z_head_stride + col0;
  oc.outb = static_cast<T*>(p.out) + span.b * p.out_batch_stride + h * p.out_head_stride + col0;
  const int64_t slice_offset = TS ? col0 * p.dim_xy : col0;
  oc.entry = static_cast<const T*>(p.chunk_states) + (g * p.heads + h) * p.dim_xy * p.dim_z +
             slice_offset;
  oc.seg_entry = nullptr;
  oc.seg_decay = 0.f;
  if (p.segments > 1) {
    const int64_t seg = c / p.segment_chunks;
    if (seg > 0) {
      oc.seg_entry = p.segment_entries +
                     ((n * p.segments + seg) * p.heads + h) * p.dim_xy * p.dim_z + slice_offset;
      oc.seg_decay = expf(-oc.lambda * static_cast<float>(C * (c - seg * p.segment_chunks)));
    }
  }
  return oc;
}

// The float32 output pass. TS: the entering states are stored transposed ([Dz, Dxy] blocks;
// p.state_transposed). TC: the matmuls run on tensor cores as TF32, else as FMA loops.
template <typename T, int DXY, int WO, int C, int NWARPS, bool TS, bool TC>
__global__ void __launch_bounds__(NWARPS * 32)
    lightning_output_kernel(const LightningSweepParams p) {
  namespace wmma = nvcuda::wmma;
  using L = OutputSmem<T, DXY, WO, C>;
  constexpr int NT = NWARPS * 32, K = Mma<T>::kK;
  constexpr bool kTensorCores = TC;
  static_assert(std::is_same<T, float>::value, "16-bit types: lightning_output_kernel_mma");
  extern __shared__ __align__(128) unsigned char smem[];
  T* X = reinterpret_cast<T*>(smem + L::kX);
  T* S = reinterpret_cast<T*>(smem + L::kS);
  T* Y = reinterpret_cast<T*>(smem + L::kY);  // float32: over S, once X S is in registers
  T* Z = reinterpret_cast<T*>(smem + L::kZ);
  float* P = reinterpret_cast<float*>(smem + L::kP);  // P, then O1
  T* pb = Y;                                          // once P is computed
  float* pw = reinterpret_cast<float*>(smem + L::kPow);

  const int tid = threadIdx.x, warp = tid / 32;
  const OutputChunk<T> oc = output_chunk<T, WO, C, TS>(p);
  const int rows = oc.rows;
  const int64_t t0 = oc.t0, time_step = oc.time_step;
  const T* yb = oc.yb;
  const T* entry = oc.entry;
  const float* seg_entry = oc.seg_entry;
  const float seg_decay = oc.seg_decay, lambda = oc.lambda;
  load_rows<T, C, DXY, L::kLdX, NT>(X, oc.xb, p.x_time_stride, t0, time_step, rows);
  load_rows<T, C, WO, L::kLdZ, NT>(Z, oc.zb, p.z_time_stride, t0, time_step, rows);
  // Stored rows of the slice: DXY rows of WO (S) or, with TS, WO rows of DXY (St).
  constexpr int kRows = TS ? WO : DXY, kCols = TS ? DXY : WO, kLdS = TS ? L::kLdSt : L::kLdZ;
  const int64_t entry_row_stride = TS ? p.dim_xy : p.dim_z;
  load_rows<T, kRows, kCols, kLdS, NT>(S, entry, entry_row_stride, 0, 1, kRows);
  cp_async_commit();
  // This thread's 8-column pieces of the segment's (float32) entering state, read into registers
  // while the copies fly: a plain load loop after the wait serialised its round trips.
  constexpr int kSegVecs = kRows * kCols / 8, kSegPerThread = (kSegVecs + NT - 1) / NT;
  float seg[kSegPerThread][8];
  if (seg_entry != nullptr) {
#pragma unroll
    for (int u = 0; u < kSegPerThread; ++u) {
      const int idx = tid + u * NT;
      if (idx >= kSegVecs) break;
      const int i = idx / (kCols / 8), j = (idx % (kCols / 8)) * 8;
      load_vec(seg_entry + i * entry_row_stride + j, seg[u]);
    }
  }
  for (int i = tid; i < C + 2; i += NT) pw[i] = expf(-lambda * static_cast<float>(i));
  cp_async_wait<0>();  // X, Z and S
  __syncthreads();
  if (seg_entry != nullptr) {  // the same for every thread of the CTA
#pragma unroll
    for (int u = 0; u < kSegPerThread; ++u) {
      const int idx = tid + u * NT;
      if (idx >= kSegVecs) break;
      const int i = idx / (kCols / 8), j = (idx % (kCols / 8)) * 8;
      T* d = S + i * kLdS + j;
      float sv[8];
      load_vec(d, sv);
#pragma unroll
      for (int e = 0; e < 8; ++e) sv[e] += seg_decay * seg[u][e];
      store_vec(d, sv);
    }
    __syncthreads();
  }

  // O2 = X S into registers first, so that Y can take S's space.
  constexpr int kColTiles = WO / 16, kOutTiles = (C / 16) * kColTiles;
  constexpr int kPerWarp = (kOutTiles + NWARPS - 1) / NWARPS;  // for_warp_tiles' u range
  constexpr int kPerThread = (C * WO + NT - 1) / NT;  // FMA path: for_thread_elements' u range
  AccFrag<T> acc1[kTensorCores ? kPerWarp : 1], acc2[kTensorCores ? kPerWarp : 1];
  float a1[kTensorCores ? 1 : kPerThread], a2[kTensorCores ? 1 : kPerThread];
  if constexpr (kTensorCores) {
    for_warp_tiles<kOutTiles, kColTiles, NWARPS>(warp, [&](int u, int ti, int tj) {
      wmma::fill_fragment(acc2[u], 0.f);
#pragma unroll
      for (int kk = 0; kk < DXY / K; ++kk) {
        // B = S[kk tile, tj tile]; with TS, S[k][n] = St[n][k]: St read column-major.
        using BLayout = std::conditional_t<TS, wmma::col_major, wmma::row_major>;
        AFrag<T, wmma::row_major> fa;
        BFrag<T, BLayout> fb;
        load_operand(fa, X + ti * 16 * L::kLdX + kk * K, L::kLdX);
        if constexpr (TS) {
          load_operand(fb, S + tj * 16 * L::kLdSt + kk * K, L::kLdSt);
        } else {
          load_operand(fb, S + kk * K * L::kLdZ + tj * 16, L::kLdZ);
        }
        wmma::mma_sync(acc2[u], fa, fb, acc2[u]);
      }
    });
  } else {
    for_thread_elements<C, WO, NT>(tid, [&](int u, int r, int j) {
      a2[u] = 0.f;
      for (int kk = 0; kk < DXY; ++kk) {
        const T s_kj = TS ? S[j * L::kLdSt + kk] : S[kk * L::kLdZ + j];
        a2[u] += to_float(X[r * L::kLdX + kk]) * to_float(s_kj);
      }
    });
  }
  __syncthreads();  // S is dead: Y over it
  load_rows<T, C, DXY, L::kLdX, NT>(Y, yb, p.y_time_stride, t0, time_step, rows);
  cp_async_commit();
  cp_async_wait<0>();
  __syncthreads();  // Y has landed; S is dead (P may take its space)

  // P = X Y^T on and below the diagonal.
  if constexpr (kTensorCores) {
    constexpr int kTiles = C / 16;
    for (int tile = warp; tile < kTiles * kTiles; tile += NWARPS) {
      const int ti = tile / kTiles, tj = tile % kTiles;
      if (tj > ti) continue;
      AccFrag<T> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int kk = 0; kk < DXY / K; ++kk) {
        AFrag<T, wmma::row_major> fa;
        BFrag<T, wmma::col_major> fb;
        load_operand(fa, X + ti * 16 * L::kLdX + kk * K, L::kLdX);
        load_operand(fb, Y + tj * 16 * L::kLdX + kk * K, L::kLdX);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      wmma::store_matrix_sync(P + ti * 16 * L::kLdP + tj * 16, acc, L::kLdP,
                              wmma::mem_row_major);
    }
  } else {
    for (int idx = tid; idx < C * C; idx += NT) {
      const int r = idx / C, r2 = idx % C;
      if (r2 > r) continue;
      float acc = 0.f;
      for (int kk = 0; kk < DXY; ++kk) {
        acc += to_float(X[r * L::kLdX + kk]) * to_float(Y[r2 * L::kLdX + kk]);
      }
      P[r * L::kLdP + r2] = acc;
    }
  }
  __syncthreads();
  // Pb = out_scale * P * a^(r - r2) (r2 <= r), written over Y, 8 columns per step.
  for (int idx = tid; idx < C * C / 8; idx += NT) {
    const int r = idx / (C / 8), r0 = (idx % (C / 8)) * 8;
    float v[8];
    load_vec(P + r * L::kLdP + r0, v);
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      const int r2 = r0 + e;
      v[e] = r2 <= r ? p.out_scale * v[e] * pw[r - r2] : 0.f;
    }
    store_vec(pb + r * L::kLdPb + r0, v);
  }
  __syncthreads();

  // O1 = Pb Z (into P's space) and, with O2 = X S from above (into X's space once every warp is
  // done with X, when it fits), out = O1 + state_out_scale a^(r + e_in) O2.
  float* o1 = P;
  float* o2 = reinterpret_cast<float*>(smem + L::kO2);
  if constexpr (kTensorCores) {
    for_warp_tiles<kOutTiles, kColTiles, NWARPS>(warp, [&](int u, int ti, int tj) {
      wmma::fill_fragment(acc1[u], 0.f);
      // causal: Pb's columns beyond row tile ti are zero
      for (int kk = 0; kk < (ti + 1) * (16 / K); ++kk) {
        AFrag<T, wmma::row_major> fa;
        BFrag<T, wmma::row_major> fb;
        load_operand(fa, pb + ti * 16 * L::kLdPb + kk * K, L::kLdPb);
        load_operand(fb, Z + kk * K * L::kLdZ + tj * 16, L::kLdZ);
        wmma::mma_sync(acc1[u], fa, fb, acc1[u]);
      }
    });
    __syncthreads();  // X is dead
    for_warp_tiles<kOutTiles, kColTiles, NWARPS>(warp, [&](int u, int ti, int tj) {
      wmma::store_matrix_sync(o1 + ti * 16 * L::kLdO + tj * 16, acc1[u], L::kLdO,
                              wmma::mem_row_major);
      wmma::store_matrix_sync(o2 + ti * 16 * L::kLdO + tj * 16, acc2[u], L::kLdO,
                              wmma::mem_row_major);
    });
  } else {
    for_thread_elements<C, WO, NT>(tid, [&](int u, int r, int j) {
      a1[u] = 0.f;
      for (int r2 = 0; r2 <= r; ++r2) {
        a1[u] += to_float(pb[r * L::kLdPb + r2]) * to_float(Z[r2 * L::kLdZ + j]);
      }
    });
    __syncthreads();  // X is dead
    for_thread_elements<C, WO, NT>(tid, [&](int u, int r, int j) {
      o1[r * L::kLdO + j] = a1[u];
      o2[r * L::kLdO + j] = a2[u];
    });
  }
  __syncthreads();

  // 8 columns per step, one or two 16-byte stores (out rows are 16-byte aligned: the wrapper
  // allocates out contiguous, and WO and Dz are multiples of 8).
  T* outb = oc.outb;
  for (int idx = tid; idx < rows * (WO / 8); idx += NT) {
    const int r = idx / (WO / 8), j0 = (idx % (WO / 8)) * 8;
    const float f = p.state_out_scale * pw[r + p.in_exponent];
    float v[8], v2[8];
    load_vec(o1 + r * L::kLdO + j0, v);
    load_vec(o2 + r * L::kLdO + j0, v2);
#pragma unroll
    for (int e = 0; e < 8; ++e) v[e] += f * v2[e];
    store_vec(outb + (t0 + time_step * r) * p.out_time_stride + j0, v);
  }
}

// segments > 1: one thread per (sequence, head, state element) walks the segments in order:
// entry(0) = 0 (segment 0 started from the initial state itself), entry(g + 1) =
// final(g) + a^(len g) entry(g); the last value is the sequence's final state.
__global__ void lightning_segment_combine_kernel(const LightningSweepParams p) {
  const int64_t elems = p.dim_xy * p.dim_z;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= p.num_seqs * p.heads * elems) return;
  const int64_t e = idx % elems, nh = idx / elems, h = nh % p.heads, n = nh / p.heads;
  const float lambda = p.decay[h];
  const int64_t seg_len = p.segment_chunks * kLightningCudaChunk;
  float s = 0.f;
  for (int64_t g = 0; g < p.segments; ++g) {
    const int64_t at = ((n * p.segments + g) * p.heads + h) * elems + e;
    p.segment_entries[at] = s;
    int64_t len = p.seqlen - g * seg_len;
    len = len < seg_len ? len : seg_len;
    len = len > 0 ? len : 0;
    s = p.segment_finals[at] + expf(-lambda * static_cast<float>(len)) * s;
  }
  if (p.final_state != nullptr) {
    const int64_t i = e / p.dim_z, j = e % p.dim_z;
    p.final_state[(n * p.heads + h) * elems + i * p.final_row_stride + j * p.final_col_stride] = s;
  }
}

// One block per (sequence, head, 32 value columns): lane c owns column j = 32 * tile + c, warp w
// rows w, w + 8, ...; each thread's part of q . S'[:, j] is summed over the 8 warps in smem. q and
// k of the step are staged in smem as float32. S and S' are [Dk, Dv] row-major float32 (they may
// be one buffer: each element is read and written by the same thread).
// Why this shape: at batch 1 x 16 heads x 128 x 128 it gives 64 CTAs of 16 rows a thread, where
// one block per (sequence, head) walking all rows serially gave 16 (docs/benchmarks.md).
constexpr int kDecodeCols = 32;
constexpr int kDecodeRowGroups = 8;
constexpr int kDecodeThreads = kDecodeCols * kDecodeRowGroups;

template <typename T>
__global__ void __launch_bounds__(kDecodeThreads)
    lightning_decode_kernel(const LightningAttentionParams p) {
  extern __shared__ float qk[];  // [2 * Dk]
  __shared__ float partial[kDecodeRowGroups][kDecodeCols];
  const int64_t col_tiles = (p.dim_v + kDecodeCols - 1) / kDecodeCols;
  const int64_t tile = blockIdx.x % col_tiles, nh = blockIdx.x / col_tiles;
  const int64_t n = nh / p.heads, h = nh % p.heads;
  const T* q = static_cast<const T*>(p.q) + n * p.q_batch_stride + h * p.q_head_stride;
  const T* k = static_cast<const T*>(p.k) + n * p.k_batch_stride + h * p.k_head_stride;
  const T* v = static_cast<const T*>(p.v) + n * p.v_batch_stride + h * p.v_head_stride;
  for (int64_t i = threadIdx.x; i < p.dim_k; i += blockDim.x) {
    qk[i] = to_float(q[i]);
    qk[p.dim_k + i] = to_float(k[i]);
  }
  __syncthreads();
  const int lane = static_cast<int>(threadIdx.x) % kDecodeCols;
  const int group = static_cast<int>(threadIdx.x) / kDecodeCols;
  const int64_t j = tile * kDecodeCols + lane;
  float acc = 0.f;
  if (j < p.dim_v) {
    const float vj = to_float(v[j]);
    const float a = expf(-p.decay[h]);
    const int64_t base = nh * p.dim_k * p.dim_v + j;
    const float* s_in = static_cast<const float*>(p.initial_state);
    float* s_out = static_cast<float*>(p.final_state);
    if (s_in != nullptr) {
#pragma unroll 4
      for (int64_t i = group; i < p.dim_k; i += kDecodeRowGroups) {
        const float s = a * s_in[base + i * p.dim_v] + qk[p.dim_k + i] * vj;
        s_out[base + i * p.dim_v] = s;
        acc += qk[i] * s;
      }
    } else {
#pragma unroll 4
      for (int64_t i = group; i < p.dim_k; i += kDecodeRowGroups) {
        const float s = qk[p.dim_k + i] * vj;
        s_out[base + i * p.dim_v] = s;
        acc += qk[i] * s;
      }
    }
  }
  partial[group][lane] = acc;
  __syncthreads();
  if (group == 0 && j < p.dim_v) {
    float sum = 0.f;
#pragma unroll
    for (int g = 0; g < kDecodeRowGroups; ++g) sum += partial[g][lane];
    T* o = static_cast<T*>(p.o) + nh * p.dim_v;  // o is [B, 1, H, Dv] contiguous
    o[j] = from_float<T>(p.scale * sum);
  }
}

}  // namespace halo::ops::kernels
