// Plain descriptions of Lightning Attention problems: pointers, strides and sizes, no ATen types,
// so the .cu files never include LibTorch headers. lightning_attention.cpp fills them once the
// arguments are validated:
//   LightningAttentionParams  the op as the user called it (also the single-step decode kernel's
//                             input, T = 1);
//   LightningSweepParams      one chunked "sweep", the generic recurrence that the forward and
//                             each of the three backward passes are instances of (see below).
#pragma once

#include <cstdint>

namespace halo::ops {

// dtype of q, k, v and o. kFloat64 exists for the ATen reference path only.
enum class LightningAttentionDtype : int {
  kFloat32 = 0,
  kBFloat16 = 1,
  kFloat16 = 2,
  kFloat64 = 3
};

// Dimension letters as in lightning_attention.h: B batch, T time, H heads, Dk key/query head
// dim, Dv value head dim, N packed sequences. Strides are in elements; the head dim (last) of
// q, k, v, o has unit stride.
struct LightningAttentionParams {
  const void* q = nullptr;  // [B, T, H, Dk]
  const void* k = nullptr;  // [B, T, H, Dk]
  const void* v = nullptr;  // [B, T, H, Dv]
  void* o = nullptr;        // [B, T, H, Dv], contiguous, same dtype as q (set by the caller
                            // that allocates it; the ATen path allocates its own and leaves null)
  int64_t q_batch_stride = 0, q_time_stride = 0, q_head_stride = 0;
  int64_t k_batch_stride = 0, k_time_stride = 0, k_head_stride = 0;
  int64_t v_batch_stride = 0, v_time_stride = 0, v_head_stride = 0;

  const float* decay = nullptr;  // [H] float32, lambda_h > 0
  float scale = 1.f;             // multiplies q_t S_t

  // States: [B, H, Dk, Dv] ([N, H, Dk, Dv] with cu_seqlens), contiguous, float32 (float64 on
  // the float64 reference path). initial_state == nullptr means zeros.
  const void* initial_state = nullptr;
  void* final_state = nullptr;  // set like `o`

  const int64_t* cu_seqlens = nullptr;  // [N + 1] or nullptr (then N == B, no packing)

  int64_t batch = 0;        // B (1 with cu_seqlens)
  int64_t seqlen = 0;       // T
  int64_t heads = 0;        // H
  int64_t dim_k = 0;        // Dk
  int64_t dim_v = 0;        // Dv
  int64_t num_seqs = 0;     // N: number of independent sequences (B, or cu_seqlens' length - 1)
  int64_t chunk_size = 64;  // C: positions per chunk of the chunked algorithm
  LightningAttentionDtype dtype = LightningAttentionDtype::kFloat32;
};

// One sweep over time, per sequence n, head h, in chunks of C = kLightningCudaChunk positions
// taken in processing order r = 0, 1, ... (time t = start + r, or end - 1 - r when `reverse`):
// with a = exp(-decay[h]), for a chunk of L rows and the state S [Dxy, Dz] (float32) entering it,
//   out_r = out_scale * sum_{r' <= r} a^(r - r') (x_r . y_r') z_r'
//         + state_out_scale * a^(r + in_exponent) x_r S
//   S    <- a^L S + update_scale * sum_r a^(L - 1 - r + update_exponent) y_r^T z_r
// The forward is (x, y, z) = (q, k, v); the backward is three sweeps: dq = (dO, v, k) forward
// with S^T, dv = (k, q, dO) and dk = (v, dO, q) in reverse with the state adjoint (lightning_
// attention.cpp spells out each one's constants). A sweep runs as two kernels: the state pass
// walks each sequence's chunks in order and stores every chunk's entering state in
// `chunk_states`; the output pass then computes all chunks' outputs in parallel. dv's and dk's
// states are transposes of each other (R, R^T), so dk runs only its output pass, on dv's chunk
// states (`state_transposed`).
constexpr int64_t kLightningCudaChunk = 64;

struct LightningSweepParams {
  const void* x = nullptr;  // [B, T, H, Dxy], unit stride in the last dim
  const void* y = nullptr;  // [B, T, H, Dxy]
  const void* z = nullptr;  // [B, T, H, Dz]
  void* out = nullptr;      // [B, T, H, Dz], input dtype
  int64_t x_batch_stride = 0, x_time_stride = 0, x_head_stride = 0;
  int64_t y_batch_stride = 0, y_time_stride = 0, y_head_stride = 0;
  int64_t z_batch_stride = 0, z_time_stride = 0, z_head_stride = 0;
  int64_t out_batch_stride = 0, out_time_stride = 0, out_head_stride = 0;

  const float* decay = nullptr;  // [H] lambda_h > 0
  // States, float32, one [Dxy, Dz] block per (n, h) at offset (n * H + h) * Dxy * Dz; element
  // (i, j) of the block at i * row_stride + j * col_stride (a transposed view is row_stride 1,
  // col_stride Dxy). initial_state == nullptr means zeros; final_state == nullptr: not written.
  const float* initial_state = nullptr;
  int64_t initial_row_stride = 0, initial_col_stride = 0;
  float* final_state = nullptr;
  int64_t final_row_stride = 0, final_col_stride = 0;

  const int64_t* cu_seqlens = nullptr;  // [N + 1] on the device, or nullptr (N == B)
  // Workspace: the state entering every chunk, [total_chunks, H, Dxy, Dz] (row-major blocks) in
  // the input dtype: the output pass multiplies it with x in that type (bfloat16 / float16 on
  // tensor cores, float32 as TF32 or exact), so a float32 copy would only double its traffic
  // (docs/benchmarks.md, session 6). The running state itself stays float32 in the state pass.
  // Sequence n's chunk c is number chunk_offsets[n] + c, or n * ceil(T / C) + c when
  // chunk_offsets == nullptr (no cu_seqlens).
  void* chunk_states = nullptr;
  const int64_t* chunk_offsets = nullptr;  // [N + 1] on the device (with cu_seqlens)
  int64_t total_chunks = 0;
  // Segments (equal-length sequences only): each sequence's chunks split into `segments` runs of
  // `segment_chunks` chunks whose state passes run in parallel, segment 0 from the initial
  // state and the others from zeros; a combine kernel turns their final states
  // (`segment_finals`) into each segment's true entering state (`segment_entries`), which the
  // output pass adds, decayed, to the chunk states. segments == 1: one walk per sequence.
  int64_t segments = 1, segment_chunks = 0;
  float* segment_finals = nullptr;   // [N * segments, H, Dxy, Dz]
  float* segment_entries = nullptr;  // [N * segments, H, Dxy, Dz]

  int64_t batch = 0, seqlen = 0, heads = 0, dim_xy = 0, dim_z = 0, num_seqs = 0;
  // Output pass only: chunk_states (and segment_entries) hold the transposed state, [Dz, Dxy]
  // blocks, written by another sweep's state pass (the dk sweep reads the dv sweep's R as R^T).
  bool state_transposed = false;
  bool reverse = false;
  int in_exponent = 1, update_exponent = 0;
  float out_scale = 1.f, state_out_scale = 1.f, update_scale = 1.f;
  LightningAttentionDtype dtype = LightningAttentionDtype::kFloat32;
  // float32 only: multiply on tensor cores with the tiles rounded to TF32 (10-bit mantissa,
  // float32 accumulation and state) instead of exact float32 FMA loops.
  bool tf32 = false;
};

// Whether the sweep kernels handle these sizes (Dxy and Dz in {64, 128}); the caller also
// checks 16-byte alignment of pointers and strides. Host-only, no CUDA needed to ask.
inline bool lightning_sweep_supports(int64_t dim_xy, int64_t dim_z) {
  auto ok = [](int64_t d) { return d == 64 || d == 128; };
  return ok(dim_xy) && ok(dim_z);
}

// How many segments the state pass of this sweep should use on the current device (1, or more
// when there are too few sequences x heads to fill the GPU), and the chunks per segment.
// Reads sizes, dtype and cu_seqlens only; the caller allocates the segment workspaces.
void lightning_sweep_segments(const LightningSweepParams& params, int64_t* segments,
                              int64_t* segment_chunks);
// Launch on `stream` (a cudaStream_t passed as void*); return the CUDA error code (0 = success).
// A sweep is its state pass (with the segment combine when segments > 1), then its output pass
// (tensor cores for bfloat16 / float16, and float32 with tf32); lightning_sweep_cuda runs both.
// The halves exist apart so that two sweeps with one state (the backward's dv and dk) run one
// state pass.
int lightning_sweep_state_cuda(const LightningSweepParams& params, void* stream);
int lightning_sweep_output_cuda(const LightningSweepParams& params, void* stream);
int lightning_sweep_cuda(const LightningSweepParams& params, void* stream);
// The single-step decode kernel: T == 1, no cu_seqlens; o and final_state set by the caller,
// final_state = a * initial_state + k^T v and o = scale * q final_state. Any Dk, Dv.
int lightning_decode_cuda(const LightningAttentionParams& params, void* stream);

}  // namespace halo::ops
