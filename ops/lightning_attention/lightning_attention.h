// Lightning Attention: linear attention with a constant per-head decay (HALO_NOTES 2.1).
//
// For head h with decay rate lambda_h > 0 and state S of shape [Dk, Dv] (float32):
//     S_t = exp(-lambda_h) * S_{t-1} + k_t^T v_t
//     o_t = scale * q_t S_t
// i.e. o_t = scale * sum_{s<=t} exp(-lambda_h (t - s)) (q_t . k_s) v_s  (+ the initial state's
// contribution scale * exp(-lambda_h (t + 1)) q_t S_{-1}).
//
// Layout (dimension letters used throughout): B batch, T time, H heads, Dk key/query head dim,
// Dv value head dim, N packed sequences.
//   q, k:           [B, T, H, Dk]   float32, bfloat16 or float16 (same dtype for q, k, v)
//   v:              [B, T, H, Dv]
//   decay:          [H]             float32 lambda_h (> 0), e.g. alibi_decay_rates(H)
//   initial_state:  [B, H, Dk, Dv]  float32 (float64 for float64 inputs), optional (undefined
//                   tensor = zeros);
//                   with cu_seqlens: [N, H, Dk, Dv], one per packed sequence
//   cu_seqlens:     [N + 1]         int64, optional; requires B == 1: the T positions hold N
//                   sequences [cu[i], cu[i+1]), each with its own state (initial_state[i]).
//                   Passed by the ragged (packed) steps of the inference cache
//                   (hypenet/hybrid_cache.h); training rows never pass it: documents packed
//                   into one row share its state (data/packed_loader.h)
// Returns (o, final_state): o [B, T, H, Dv] in the input dtype; final_state [B, H, Dk, Dv]
// ([N, H, Dk, Dv] with cu_seqlens) in float32. Accumulation and state are float32 whatever the
// input dtype (float64 inputs compute in float64: the reference for tests).
// Differentiable with respect to q, k, v and initial_state (not decay: it is fixed).
// tf32: float32 inputs on the CUDA kernels multiply on TF32 tensor cores (products of values
// rounded to a 10-bit mantissa, float32 accumulation and state), as flash-linear-attention's
// Triton kernels compute float32 inputs (tl.dot's default input precision on Ampere and later);
// the [cuda] tests hold it to 5e-3 of the float64 recurrence (exact float32: 1e-4). Ignored for
// other dtypes, on the CPU and on the ATen path. Forward and backward both.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

namespace halo::ops {

std::tuple<at::Tensor, at::Tensor> lightning_attention(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, const at::Tensor& decay,
                                                       double scale,
                                                       const at::Tensor& initial_state = {},
                                                       const at::Tensor& cu_seqlens = {},
                                                       bool tf32 = false);

// Whether lightning_attention runs the CUDA kernels for these inputs (q [B, T, H, Dk] and
// v [B, T, H, Dv]): a CUDA build, CUDA tensors, float32 / bfloat16 / float16, and Dk, Dv each 64
// or 128. Other inputs take the chunked ATen path (on the GPU too), same results and gradients;
// for GPU inputs the first such call of the process warns on stderr, naming the shape and why
// (lightning_detail::cuda_fallback_reason). Single steps without gradients (T = 1, no
// cu_seqlens) on a GPU run the decode kernel, any Dk, Dv.
bool lightning_attention_uses_cuda_kernels(const at::Tensor& q, const at::Tensor& v);

// The fixed ALiBi-slope decay rates for `num_heads` heads (HALO_NOTES 2.1): for n a power of
// two, start = 2^(-(2^-(log2(n) - 3))), lambda_i = start^(i + 1); otherwise the slopes of the
// nearest lower power of two p, then every other slope of 2p until n are listed. float32 [H].
at::Tensor alibi_decay_rates(int64_t num_heads);

// The naive step-by-step recurrence above, in the input dtype (use float64 for references).
// Same arguments and results as lightning_attention; differentiable through ATen autograd.
std::tuple<at::Tensor, at::Tensor> lightning_attention_naive(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
    double scale, const at::Tensor& initial_state = {}, const at::Tensor& cu_seqlens = {});

// Building blocks shared by lightning_attention.cpp and lightning_attention_cpu.cpp (and tests
// that vary the chunk length). No argument checks: callers validate first. Inputs are already
// in the compute dtype (float32, or float64), decay [H] too; an undefined initial_state (or
// gradient) means zeros; an empty cu_seqlens means B independent sequences of length T, else
// B == 1 and cu_seqlens holds the N + 1 offsets on the host. Device-agnostic ATen ops.
namespace lightning_detail {

// The chunked forward (chunk length chunk_size >= 1). Returns (o [B, T, H, Dv],
// final_state [B or N, H, Dk, Dv]) in the compute dtype.
std::tuple<at::Tensor, at::Tensor> chunked_forward(const at::Tensor& q, const at::Tensor& k,
                                                   const at::Tensor& v, const at::Tensor& decay,
                                                   double scale, const at::Tensor& initial_state,
                                                   const std::vector<int64_t>& cu_seqlens,
                                                   int64_t chunk_size);

// The chunked backward for upstream gradients d_o [B, T, H, Dv] and d_final_state
// [B or N, H, Dk, Dv]. Returns (dq, dk, dv, d_initial_state) in the compute dtype.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> chunked_backward(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
    double scale, const at::Tensor& initial_state, const std::vector<int64_t>& cu_seqlens,
    const at::Tensor& d_o, const at::Tensor& d_final_state, int64_t chunk_size);

// Why GPU inputs of this dtype and these head dims take the chunked ATen path instead of the
// CUDA sweep kernels: the build has no kernels (cuda_build false), the kernels lack the dtype
// (float64), or Dk / Dv is not 64 or 128. Empty when the kernels take them. Asks no device, so
// the decision is testable on the CPU.
std::string cuda_fallback_reason(bool cuda_build, at::ScalarType dtype, int64_t dim_k,
                                 int64_t dim_v);

// Warns once per process on stderr ("warning: lightning_attention: ...") that GPU inputs
// q [B, T, H, Dk], v [B, T, H, Dv] take the ATen path, with their shapes, dtype and `reason`;
// later calls print nothing. Returns whether this call printed. lightning_attention calls it for
// GPU inputs whenever cuda_fallback_reason is not empty.
bool warn_cuda_fallback_once(const at::Tensor& q, const at::Tensor& v, const std::string& reason);

// Tests only: when set, the CUDA paths fill their outputs with NaN before the kernels run, so an
// element a kernel fails to write shows up as a NaN.
void set_poison_outputs(bool poison);

// The step-by-step recurrence in the dtype of q (initial_state and decay cast to it); returns
// (o in q's dtype, final_state in the dtype of q).
std::tuple<at::Tensor, at::Tensor> naive(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, const at::Tensor& decay, double scale,
                                         const at::Tensor& initial_state,
                                         const std::vector<int64_t>& cu_seqlens);

}  // namespace lightning_detail

}  // namespace halo::ops
