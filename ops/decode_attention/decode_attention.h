// Attention of one new query token per row over a row of a KV cache (the decode step of the
// inference engine): o[b] = softmax(scale * query_scale[b] * q[b] K_row^T) V_row over the first
// seqlens[b] keys of cache row rows[b], with GQA (query head h reads KV head h / (Hq / Hkv)).
// One API: on a GPU the split-KV kernels of this folder (flash-decoding; lengths read on the
// device, so the step can be captured in a CUDA graph), elsewhere, and for shapes the kernels do
// not take, the ATen reference.
#pragma once

#include <ATen/ATen.h>

namespace halo::ops {

// q: [N, Hq, D]; k_cache, v_cache: [R, C, Hkv, D] (unit stride in D, same strides);
// rows, seqlens: [N] int64 on q's device, rows in [0, R), seqlens in [1, C] (not checked on the
// host: that would wait for the device; the kernel reads nothing outside the cache and gives 0 for
// a row outside it); query_scale: [N] float32 (or float64) or undefined (1). Returns [N, Hq, D]
// in q's dtype. `splits` > 0 forces the number of slices of the sequence (tests); 0 picks it from
// the card.
at::Tensor decode_attention(const at::Tensor& q, const at::Tensor& k_cache,
                            const at::Tensor& v_cache, const at::Tensor& rows,
                            const at::Tensor& seqlens, double scale,
                            const at::Tensor& query_scale = {}, int64_t splits = 0);

// The readable reference in ATen ops (float32 math, float64 for float64 inputs); reads rows and
// seqlens on the host.
at::Tensor decode_attention_reference(const at::Tensor& q, const at::Tensor& k_cache,
                                      const at::Tensor& v_cache, const at::Tensor& rows,
                                      const at::Tensor& seqlens, double scale,
                                      const at::Tensor& query_scale = {});

// Whether decode_attention runs the CUDA kernels for a cache of this dtype, device and head dim
// with `group` query heads per KV head (else the reference, which waits for the device).
bool decode_attention_uses_kernel(const at::Tensor& k_cache, int64_t group);

}  // namespace halo::ops
