// Plain description of one Lightning Attention problem: pointers, strides and sizes, no ATen
// types, so future .cu files never include LibTorch headers. lightning_attention.cpp fills it
// once the arguments are validated; the ATen chunked path reads the sizes and chunk length
// from it. No CUDA kernel exists yet: the fields are those a chunked forward kernel (prefill
// and single-step decode, T = 1) needs; a backward kernel will add the gradient pointers.
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

}  // namespace halo::ops
