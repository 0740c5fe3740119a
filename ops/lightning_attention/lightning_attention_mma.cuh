// The Lightning sweep's two passes for bfloat16 / float16 on mma.sync m16n8k16 (no LibTorch
// headers); float32 (exact and TF32) keeps the WMMA / FMA kernels of
// lightning_attention_kernel.cuh, which also describes the sweep.
//   lightning_state_kernel_mma   one CTA of 4 warps per (sequence or segment, head, 64 x 64
//                                block of the state); warp w holds rows 16w..16w+15 of the block
//                                in registers for the whole walk. Per chunk: store the entering
//                                state (input dtype), S = a^L S + (Y^T diag(w)) Z with the decay
//                                weights w applied to Y^T's fragments in registers.
//   lightning_output_kernel_mma  one CTA of 4 warps per (chunk, head, 64 output columns); warp w
//                                owns chunk rows 16w..16w+15 and keeps everything of them in
//                                registers: O = f_r (X S) + Pb Z, with P = X Y^T, its decay mask
//                                and scale applied to the accumulators, which then serve as the
//                                A operand of Pb Z directly (their layouts match, m16n8k16).
// Why not WMMA: its fragments have no defined layout, so every elementwise step (decay weights,
// the causal mask, conversion to the input dtype) went through shared memory between barriers.
// At 8 x 2048 bf16, per forward, these passes take 0.13 / 0.16 ms (fla's chunk_fwd_kernel_h /
// _o: 0.096 / 0.148 ms on the same kind of card; H100, 2026-12-06; the WMMA passes they replaced
// are measured beside them in docs/benchmarks.md).
// Tiles in shared memory have no padding; rows are XOR-swizzled in 16-byte pieces so that
// ldmatrix and the staging stores hit distinct banks.
#pragma once

#include "ops/lightning_attention/lightning_attention_kernel.cuh"

#include <cstdint>
#include <type_traits>

namespace halo::ops::kernels {

// Element (r, c) of a row-major [rows, LEN] tile of 16-bit values, its 16-byte pieces XOR-swizzled
// by the row (piece c / 8 of row r sits at piece (c / 8) ^ (r % 8)): the 8 rows an ldmatrix
// reads, or 8 rows written at one column, fall in 8 different bank groups. LEN >= 64.
template <int LEN>
__device__ __forceinline__ int swz(int r, int c) {
  static_assert(LEN % 64 == 0, "rows of whole 128-byte lines");
  return r * LEN + ((((c >> 3) ^ r) & 7) | ((c >> 3) & ~7)) * 8 + (c & 7);
}

// 16-byte copy global -> shared, asynchronous; when !valid it writes 16 zero bytes instead.
__device__ __forceinline__ void cp_async16_zfill(void* smem, const void* gmem, bool valid) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(gmem),
               "r"(valid ? 16 : 0));
}

// Copies `rows_valid` rows of LEN 16-bit values (row r at src + (first_time + time_step * r) *
// time_stride) into a swizzled [ROWS, LEN] tile, zero-filling the rest (partial chunks need no
// masks), 16 bytes per cp.async.
template <typename T, int ROWS, int LEN, int NT>
__device__ __forceinline__ void load_rows_swz(T* dst, const T* src, int64_t time_stride,
                                              int64_t first_time, int64_t time_step,
                                              int rows_valid) {
  constexpr int kPieces = LEN / 8, kRowsPerStep = NT / kPieces;
  static_assert(NT % kPieces == 0 && ROWS % kRowsPerStep == 0, "whole rows per step");
  // Thread tid copies piece tid % kPieces of rows tid / kPieces + u * kRowsPerStep: unrolled
  // with the row step hoisted (a strided loop took 520 instructions for 8 copies).
  const int r_first = threadIdx.x / kPieces, c = (threadIdx.x % kPieces) * 8;
  const int64_t row_stride = time_step * time_stride;
  const T* s = src + (first_time + time_step * r_first) * time_stride + c;
#pragma unroll
  for (int u = 0; u < ROWS / kRowsPerStep; ++u) {
    const int r = r_first + u * kRowsPerStep;
    const bool valid = r < rows_valid;
    // A row past rows_valid reads nothing (source size 0, zeros written) from a valid address.
    cp_async16_zfill(dst + swz<LEN>(r, c), valid ? s + u * kRowsPerStep * row_stride : src, valid);
  }
}

// ldmatrix: four 8 x 8 tiles of 16-bit values; lane l gives the address of row l % 8 of tile l / 8.
// Without .trans lane l receives row l / 4, elements 2 (l % 4) and +1 of each tile; with .trans
// the same of the transposed tile.
__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], const void* p) {
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// d += a b for one m16n8k16 tile, float32 accumulation. With g = lane / 4, t = lane % 4:
// a (16 x 16): a[0] row g, columns 2t, 2t+1; a[1] row g+8; a[2] row g, columns 2t+8, 2t+9;
// a[3] row g+8, columns 2t+8, 2t+9. b (16 x 8): b[0] rows 2t, 2t+1 of column g; b[1] rows
// 2t+8, 2t+9. d (16 x 8): d[0], d[1] row g, columns 2t, 2t+1; d[2], d[3] row g+8.
template <typename T>
__device__ __forceinline__ void mma16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                         uint32_t b1) {
  if constexpr (std::is_same<T, __nv_bfloat16>::value) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    static_assert(std::is_same<T, __half>::value, "16-bit inputs only");
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// acc = A B for a warp's 16 rows: A rows r0..r0+15 of a swizzled [., K] tile, B's n-tile pairs
// jp = 0..jp_last (n-tiles 2 jp, 2 jp + 1; the others stay zero), whose fragments for k-step kk
// load_b(kk, jp, b) loads (b[0], b[1] for n-tile 2 jp, b[2], b[3] for 2 jp + 1).
template <typename T, int K, typename LoadB>
__device__ __forceinline__ void warp_rows_mma(float (&acc)[8][4], const T* A, int r0, int lane,
                                              int jp_last, LoadB&& load_b) {
#pragma unroll
  for (int j = 0; j < 8; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
#pragma unroll
  for (int kk = 0; kk < K / 16; ++kk) {
    uint32_t a[4];
    ldsm_x4(a, A + swz<K>(r0 + lane % 16, kk * 16 + (lane / 16) * 8));
#pragma unroll
    for (int jp = 0; jp < 4; ++jp) {
      if (jp > jp_last) break;
      uint32_t b[4];
      load_b(kk, jp, b);
      mma16816<T>(acc[2 * jp], a, b[0], b[1]);
      mma16816<T>(acc[2 * jp + 1], a, b[2], b[3]);
    }
  }
}

// acc += a B for k-step kk (a: the A fragment of its 16 k) with B rows 16 kk..16 kk+15 of a
// swizzled row-major [k][64] tile (ldmatrix .trans), all 8 n-tiles.
template <typename T>
__device__ __forceinline__ void mma_k_step_by_rows(float (&acc)[8][4], const uint32_t (&a)[4],
                                                   const T* B, int kk, int lane) {
#pragma unroll
  for (int jp = 0; jp < 4; ++jp) {
    uint32_t b[4];
    ldsm_x4_t(b, B + swz<64>(kk * 16 + lane % 16, jp * 16 + (lane / 16) * 8));
    mma16816<T>(acc[2 * jp], a, b[0], b[1]);
    mma16816<T>(acc[2 * jp + 1], a, b[2], b[3]);
  }
}

// Two float32 values as one register of two T (lo in the low half).
template <typename T>
__device__ __forceinline__ uint32_t pack2(float lo, float hi) {
  union {
    T t[2];
    uint32_t u;
  } v;
  v.t[0] = from_float<T>(lo);
  v.t[1] = from_float<T>(hi);
  return v.u;
}

// The two values of a register of two T, each multiplied by its float32 factor, rounded once.
template <typename T>
__device__ __forceinline__ uint32_t scale2(uint32_t v, float f_lo, float f_hi) {
  union {
    uint32_t u;
    T t[2];
  } in{v};
  return pack2<T>(to_float(in.t[0]) * f_lo, to_float(in.t[1]) * f_hi);
}

// Shared memory of the mma output pass: X [C, DXY], Y [C, DXY], Z [C, WO], S [DXY, WO] (St
// [WO, DXY] with TS: the same size), all swizzled. The output goes out through each warp's own
// rows of X.
template <typename T, int DXY, int WO, int C>
struct OutputMmaSmem {
  static constexpr size_t kX = 0;
  static constexpr size_t kY = kX + sizeof(T) * C * DXY;
  static constexpr size_t kZ = kY + sizeof(T) * C * DXY;
  static constexpr size_t kS = kZ + sizeof(T) * C * WO;
  static constexpr size_t kBytes = kS + sizeof(T) * DXY * WO;
};

// The output pass. X, Y [C, Dxy], Z [C, 64] and the state slice [Dxy, 64] (St [64, Dxy]): 56 KB
// at Dxy 128, four CTAs per SM. Two cp.async groups: X and S first, so that X S runs while Y and
// Z land.
// TS: the entering states are stored transposed ([Dz, Dxy] blocks; p.state_transposed).
// Four CTAs per SM: 4 x (56 KB + 1 KB reserved) is the H100's 228 KB, at most 128 registers.
template <typename T, int DXY, bool TS>
__global__ void __launch_bounds__(128, 4)
    lightning_output_kernel_mma(const LightningSweepParams p) {
  constexpr int C = 64, WO = 64, NT = 128;
  using L = OutputMmaSmem<T, DXY, WO, C>;
  static_assert(C == 16 * (NT / 32), "one warp per 16 rows");
  extern __shared__ __align__(128) unsigned char smem[];
  T* X = reinterpret_cast<T*>(smem + L::kX);
  T* Y = reinterpret_cast<T*>(smem + L::kY);
  T* Z = reinterpret_cast<T*>(smem + L::kZ);
  T* S = reinterpret_cast<T*>(smem + L::kS);  // S [DXY][WO], or with TS St [WO][DXY]
  constexpr int kSLen = TS ? DXY : WO;        // S's row length

  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  const OutputChunk<T> oc = output_chunk<T, WO, C, TS>(p);
  load_rows_swz<T, C, DXY, NT>(X, oc.xb, p.x_time_stride, oc.t0, oc.time_step, oc.rows);
  const int64_t entry_row_stride = TS ? p.dim_xy : p.dim_z;
  load_rows_swz<T, TS ? WO : DXY, kSLen, NT>(S, oc.entry, entry_row_stride, 0, 1, TS ? WO : DXY);
  cp_async_commit();
  load_rows_swz<T, C, DXY, NT>(Y, oc.yb, p.y_time_stride, oc.t0, oc.time_step, oc.rows);
  load_rows_swz<T, C, WO, NT>(Z, oc.zb, p.z_time_stride, oc.t0, oc.time_step, oc.rows);
  cp_async_commit();

  // With segments: S += seg_decay * seg_entry (float32), 8 values per piece. This thread's
  // pieces are read into registers while the copies fly (64 registers, dead before the MMAs).
  constexpr int kSegPieces = DXY * WO / 8, kSegPerThread = kSegPieces / NT, kPieces = kSLen / 8;
  static_assert(kSegPieces % NT == 0, "whole pieces per thread");
  float seg[kSegPerThread][8];
  if (oc.seg_entry != nullptr) {  // the same for every thread of the CTA
#pragma unroll
    for (int u = 0; u < kSegPerThread; ++u) {
      const int idx = tid + u * NT, i = idx / kPieces, j = (idx % kPieces) * 8;
      load_vec(oc.seg_entry + i * entry_row_stride + j, seg[u]);
    }
  }
  cp_async_wait<1>();  // X and S
  __syncthreads();
  if (oc.seg_entry != nullptr) {
#pragma unroll
    for (int u = 0; u < kSegPerThread; ++u) {
      const int idx = tid + u * NT, i = idx / kPieces, j = (idx % kPieces) * 8;
      T* d = S + swz<kSLen>(i, j);
      float sv[8];
      load_vec(d, sv);
#pragma unroll
      for (int e = 0; e < 8; ++e) sv[e] += oc.seg_decay * seg[u][e];
      store_vec(d, sv);
    }
    __syncthreads();
  }

  const int g = lane / 4, t = lane % 4, r0 = warp * 16;
  // This lane's ldmatrix offsets in a 16 x 16 block: (a_row, a_col) for A, and for B read from
  // a [k][n] tile with .trans (tiles: rows 0-7, rows 8-15, then the same at columns 8-15);
  // (bt_row, bt_col) for B read from an [n][k] tile (n 0-7 at k 0-7 and 8-15, then n 8-15).
  const int a_row = lane % 16, a_col = (lane / 16) * 8;
  const int bt_row = (lane % 8) + (lane / 16) * 8, bt_col = ((lane / 8) % 2) * 8;

  // acc = X S for the warp's 16 rows x 64 columns: 8 n-tiles of 8 columns.
  float acc[8][4];
  warp_rows_mma<T, DXY>(acc, X, r0, lane, 3, [&](int kk, int jp, uint32_t(&b)[4]) {
    if constexpr (TS) {  // St[n][k]
      ldsm_x4(b, S + swz<DXY>(jp * 16 + bt_row, kk * 16 + bt_col));
    } else {  // S[k][n]
      ldsm_x4_t(b, S + swz<WO>(kk * 16 + a_row, jp * 16 + a_col));
    }
  });
  // Rows r0 + g and r0 + g + 8: state_out_scale a^(r + in_exponent).
  const float lambda = oc.lambda;
  const float f_lo = p.state_out_scale * expf(-lambda * static_cast<float>(r0 + g + p.in_exponent));
  const float f_hi =
      p.state_out_scale * expf(-lambda * static_cast<float>(r0 + g + 8 + p.in_exponent));
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    acc[j][0] *= f_lo, acc[j][1] *= f_lo;
    acc[j][2] *= f_hi, acc[j][3] *= f_hi;
  }

  cp_async_wait<0>();  // Y and Z
  __syncthreads();

  // P = X Y^T for the warp's rows and the columns r2 <= r0 + 15: n-tiles 0 .. 2 warp + 1.
  float pa[8][4];
  warp_rows_mma<T, DXY>(pa, X, r0, lane, warp, [&](int kk, int jp, uint32_t(&b)[4]) {
    ldsm_x4(b, Y + swz<DXY>(jp * 16 + bt_row, kk * 16 + bt_col));  // Y[r2][k]
  });
  // Pb = out_scale P a^(r - r2) on and below the diagonal, 0 above, then acc += Pb Z with Pb's
  // accumulators as A operands: k-step kk covers r2 = 16 kk .. 16 kk + 15, n-tiles 2 kk, 2 kk + 1.
#pragma unroll
  for (int kk = 0; kk < 4; ++kk) {
    if (kk > warp) break;
    uint32_t a[4];
#pragma unroll
    for (int half = 0; half < 2; ++half) {
      float(&v)[4] = pa[2 * kk + half];
      const int c2 = 16 * kk + 8 * half + 2 * t;  // r2 of v[0] and v[2]
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int r = r0 + g + (e / 2) * 8, r2 = c2 + e % 2;
        v[e] = r2 <= r ? p.out_scale * v[e] * expf(-lambda * static_cast<float>(r - r2)) : 0.f;
      }
      a[2 * half] = pack2<T>(v[0], v[1]);
      a[2 * half + 1] = pack2<T>(v[2], v[3]);
    }
    mma_k_step_by_rows<T>(acc, a, Z, kk, lane);  // Z[r2][j]
  }

  // Out: staged as T in the first WO columns of the warp's own rows of X (no other warp reads
  // them), then 16-byte stores, 8 lanes per 128-byte row.
  __syncwarp();
#pragma unroll
  for (int j = 0; j < 8; ++j) {
    *reinterpret_cast<uint32_t*>(X + swz<DXY>(r0 + g, 8 * j + 2 * t)) =
        pack2<T>(acc[j][0], acc[j][1]);
    *reinterpret_cast<uint32_t*>(X + swz<DXY>(r0 + g + 8, 8 * j + 2 * t)) =
        pack2<T>(acc[j][2], acc[j][3]);
  }
  __syncwarp();
#pragma unroll
  for (int u = 0; u < 4; ++u) {
    const int idx = lane + 32 * u, r = r0 + idx / 8, c = (idx % 8) * 8;
    if (r < oc.rows) {
      *reinterpret_cast<uint4*>(oc.outb + (oc.t0 + oc.time_step * r) * p.out_time_stride + c) =
          *reinterpret_cast<const uint4*>(X + swz<DXY>(r, c));
    }
  }
}

// Shared memory of the mma state pass: STAGES buffers of Y [C, 64] and Z [C, 64] in flight
// (swizzled), and the decay weights.
template <typename T, int C, int STAGES>
struct StateMmaSmem {
  static constexpr int kRT = 64, kW = 64, kWarps = 4;
  static constexpr size_t kY = 0;
  static constexpr size_t kZ = kY + sizeof(T) * STAGES * C * kRT;
  static constexpr size_t kWeights = kZ + sizeof(T) * STAGES * C * kW;  // [2][C] float
  static constexpr size_t kBytes = kWeights + sizeof(float) * 2 * C;
};

// The state pass: a 64 x 64 block of the state (rows row0.. of Dxy, columns col0.. of Dz) over
// one sequence's (or segment's) chunks, one barrier per chunk. Per chunk: wait for its Y and Z
// (fetched STAGES - 1 chunks ahead), barrier, fetch a later chunk into the buffer the previous
// one used, store the entering state, then S = a^L S + sum_r w_r Y_r^T Z_r with
// w_r = update_scale a^(L - 1 - r + update_exponent) multiplied into Y^T's A fragments. Three
// buffers take 48 KB and at most 128 registers a thread: four CTAs per SM, so 8 x 2048 x 16
// heads x 128 x 128 (512 CTAs) runs in one wave.
template <typename T, int C, int STAGES>
__global__ void __launch_bounds__(128, 4) lightning_state_kernel_mma(const LightningSweepParams p) {
  using L = StateMmaSmem<T, C, STAGES>;
  constexpr int RT = L::kRT, W = L::kW, NT = 128;
  static_assert(RT == 16 * (NT / 32), "one warp per 16 state rows");
  extern __shared__ __align__(128) unsigned char smem[];
  T* sy = reinterpret_cast<T*>(smem + L::kY);
  T* sz = reinterpret_cast<T*>(smem + L::kZ);
  const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
  float* wt = reinterpret_cast<float*>(smem + L::kWeights);
  const StateBlock<T> blk = state_block<T, RT, W, C>(p);
  const StateTask& task = blk.task;
  const SeqSpan& span = task.span;
  const int g = lane / 4, t = lane % 4, r0 = warp * 16;
  // ldmatrix offsets for Y^T's A fragments, read .trans from Y [r][m] (as in the output pass).
  const int bt_row = (lane % 8) + (lane / 16) * 8, bt_col = ((lane / 8) % 2) * 8;
  const float lambda = p.decay[blk.h];

  // acc[j]: rows row0 + r0 + g (+8 for [2], [3]) and columns col0 + 8 j + 2 t (+1) of the state.
  float acc[8][4];
  const bool initial = task.from_initial && p.initial_state != nullptr;
#pragma unroll
  for (int j = 0; j < 8; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int64_t i = blk.row0 + r0 + g + (e / 2) * 8, jj = blk.col0 + 8 * j + 2 * t + e % 2;
      acc[j][e] = initial ? p.initial_state[blk.state_base + i * p.initial_row_stride +
                                            jj * p.initial_col_stride]
                          : 0.f;
    }
  }
  // The weights w_r = update_scale a^(L - 1 - r + update_exponent) of whole chunks (L = C) and
  // of the walk's last chunk (L may be shorter; zero past L, where the zero-filled rows have no
  // weight to overflow), read as float2 pairs per k-step (in registers they spilled).
  const int last_rows = chunk_rows(span, blk.num_chunks - 1, C);
  for (int i = tid; i < 2 * C; i += NT) {
    const int rows = i < C ? C : last_rows, r = i % C;
    wt[i] = r < rows ? p.update_scale *
                           expf(-lambda * static_cast<float>(rows - 1 - r + p.update_exponent))
                     : 0.f;
  }
  const float a_full = expf(-lambda * static_cast<float>(C));
  const float a_last = expf(-lambda * static_cast<float>(last_rows));

  const int num_chunks = static_cast<int>(blk.num_chunks);  // 32-bit: c % STAGES every chunk
  auto fetch = [&](int c) {
    if (c < num_chunks) {
      const int buf = c % STAGES;
      const int rows = chunk_rows(span, c, C);
      const int64_t t0 = chunk_first_time(p, span, c, C);
      load_rows_swz<T, C, RT, NT>(sy + buf * C * RT, blk.yb, p.y_time_stride, t0, blk.time_step,
                                  rows);
      load_rows_swz<T, C, W, NT>(sz + buf * C * W, blk.zb, p.z_time_stride, t0, blk.time_step,
                                 rows);
    }
    cp_async_commit();  // empty past the last chunk, so that group counts stay uniform
  };
  for (int c = 0; c < STAGES - 1; ++c) fetch(c);

  for (int c = 0; c < num_chunks; ++c) {
    cp_async_wait<STAGES - 2>();  // this thread's copies of chunk c have landed
    __syncthreads();              // everyone's; and every warp is done with chunk c - 1
    fetch(c + STAGES - 1);        // into chunk c - 1's buffer
    const int buf = c % STAGES;
    const T* Y = sy + buf * C * RT;
    const T* Z = sz + buf * C * W;

    // The entering state, in T, straight from the accumulators: a quad of lanes writes 16
    // contiguous bytes of a row, and n-tiles j and j + 1 complete a 32-byte sector (staging it
    // for 16-byte stores took 8 KB of smem, which left three CTAs per SM: two waves at 8 x 2048).
    T* entry = static_cast<T*>(p.chunk_states) +
               ((span.first_chunk + c) * p.heads + blk.h) * p.dim_xy * p.dim_z +
               (blk.row0 + r0 + g) * p.dim_z + blk.col0 + 2 * t;
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      *reinterpret_cast<uint32_t*>(entry + 8 * j) = pack2<T>(acc[j][0], acc[j][1]);
      *reinterpret_cast<uint32_t*>(entry + 8 * p.dim_z + 8 * j) = pack2<T>(acc[j][2], acc[j][3]);
    }

    const bool last = c == num_chunks - 1;
    const float a_chunk = last ? a_last : a_full;
    const float* w_chunk = wt + (last ? C : 0);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[j][e] *= a_chunk;
    }
#pragma unroll
    for (int kk = 0; kk < C / 16; ++kk) {
      // A = Y^T diag(w): element (m, k) = w_k Y[k][m], Y read transposed.
      uint32_t a[4];
      ldsm_x4_t(a, Y + swz<RT>(kk * 16 + bt_row, r0 + bt_col));
      const float2 w_lo = *reinterpret_cast<const float2*>(w_chunk + kk * 16 + 2 * t);
      const float2 w_hi = *reinterpret_cast<const float2*>(w_chunk + kk * 16 + 2 * t + 8);
      a[0] = scale2<T>(a[0], w_lo.x, w_lo.y);
      a[1] = scale2<T>(a[1], w_lo.x, w_lo.y);
      a[2] = scale2<T>(a[2], w_hi.x, w_hi.y);
      a[3] = scale2<T>(a[3], w_hi.x, w_hi.y);
      mma_k_step_by_rows<T>(acc, a, Z, kk, lane);  // Z[r][j]
    }
  }
  cp_async_wait<0>();

  if (task.final_state != nullptr) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int64_t i = blk.row0 + r0 + g + (e / 2) * 8, jj = blk.col0 + 8 * j + 2 * t + e % 2;
        task.final_state[i * task.final_row_stride + jj * task.final_col_stride] = acc[j][e];
      }
    }
  }
}

}  // namespace halo::ops::kernels
