// Plain parameters of the split-KV decode attention kernels (flash-decoding): pointers, sizes and
// strides only, no ATen types, so the .cu files never include LibTorch headers.
#pragma once

#include <cstdint>

namespace halo::ops {

enum class DecodeAttentionDtype : int { kFloat32 = 0, kBFloat16 = 1, kFloat16 = 2 };

struct DecodeAttentionParams {
  // One query token per row b: q [N, Hq, D], contiguous.
  const void* q = nullptr;
  // KV caches [R, C, Hkv, D] (token-major, as hypenet::KvCache), unit stride in D; strides in
  // elements. k and v share them.
  const void* k = nullptr;
  const void* v = nullptr;
  int64_t row_stride = 0, token_stride = 0, head_stride = 0;
  const int64_t* rows = nullptr;       // [N] cache row read by query row b
  const int64_t* seqlens = nullptr;    // [N] keys 0..seqlens[b]-1 of that row are attended
  const float* query_scale = nullptr;  // [N] factor on the logits (HyPE), or null for 1
  void* o = nullptr;                   // [N, Hq, D], contiguous, q's dtype
  // Workspace for splits > 1: per (b, query head, split) the split's normalised output and its
  // log-sum-exp in base 2.
  float* partial_o = nullptr;    // [N, Hq, splits, D]
  float* partial_lse = nullptr;  // [N, Hq, splits]
  int64_t N = 0, Hq = 0, Hkv = 0, D = 0, R = 0, C = 0;
  int splits = 1;      // CTAs along the key sequence per (row, kv head)
  float scale = 1.0f;  // softmax scale (head_dim^-0.5)
  DecodeAttentionDtype dtype = DecodeAttentionDtype::kBFloat16;
};

// Whether the kernels handle this shape: 16-byte vectors must tile D into a power-of-two number
// of lanes <= 32, and Hq / Hkv must be 1, 2, 4 or 8.
bool decode_attention_cuda_supports(DecodeAttentionDtype dtype, int64_t D, int64_t group);

// Launches the split kernel (and the combine kernel when splits > 1) on `stream` (a
// cudaStream_t as void*). Returns the CUDA error code of the launches (0 = success).
int decode_attention_cuda(const DecodeAttentionParams& params, void* stream);

// Keys one CTA consumes per iteration (slices are rounded to it): 4 warps x keys per warp load x
// 4 in flight.
int64_t decode_attention_keys_per_iteration(DecodeAttentionDtype dtype, int64_t D);

// Number of multiprocessors of the current device (0 if it cannot be read).
int decode_attention_device_sms();

}  // namespace halo::ops
