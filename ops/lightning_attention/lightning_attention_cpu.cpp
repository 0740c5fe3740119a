// Lightning Attention in ATen ops: the ALiBi decay rates, the naive step-by-step recurrence (the
// reference) and the chunked forward and backward (the algorithm a CUDA kernel will follow).
// Device-agnostic: on CUDA tensors the same ATen code runs on the GPU.
//
// Chunked algebra, per head with a = exp(-lambda), chunk of L <= C positions (local i, j),
// state S entering the chunk:
//   forward   o_i   = scale * [ sum_{j<=i} a^(i-j) (q_i . k_j) v_j + a^(i+1) q_i S ]
//             S'    = a^L S + sum_j a^(L-1-j) k_j^T v_j
//   backward  with R the adjoint of the state leaving the chunk (dS_final for the last one):
//             dq_i  = scale * [ sum_{j<=i} a^(i-j) (dO_i . v_j) k_j + a^(i+1) dO_i S^T ]
//             dv_j  = scale * sum_{i>=j} a^(i-j) (k_j . q_i) dO_i + a^(L-1-j) k_j R
//             dk_j  = scale * sum_{i>=j} a^(i-j) (v_j . dO_i) q_i + a^(L-1-j) v_j R^T
//             R_in  = a^L R + scale * sum_i a^(i+1) q_i^T dO_i   (adjoint of S; d(initial) at
//                                                                 the first chunk)
// All chunks are processed at once by batched matmuls; only the [Dk, Dv] state recurrences
// (one step per chunk) loop.
#include "ops/lightning_attention/lightning_attention.h"

#include "common/error.h"

#include <cmath>

namespace halo::ops {

namespace {

// Slopes of the ALiBi paper's get_slopes for a power of two n: start^(i + 1).
std::vector<double> alibi_slopes_power_of_two(int64_t n) {
  const double start = std::pow(2.0, -std::pow(2.0, -(std::log2(static_cast<double>(n)) - 3.0)));
  std::vector<double> slopes;
  for (int64_t i = 0; i < n; ++i) slopes.push_back(std::pow(start, static_cast<double>(i + 1)));
  return slopes;
}

std::vector<double> alibi_slopes(int64_t n) {
  int64_t p = 1;
  while (p * 2 <= n) p *= 2;
  auto slopes = alibi_slopes_power_of_two(p);
  if (p == n) return slopes;
  const auto twice = alibi_slopes(2 * p);
  for (int64_t i = 0; i < n - p; ++i) slopes.push_back(twice[static_cast<size_t>(2 * i)]);
  return slopes;
}

// Decay factors of one chunked problem over T positions in chunks of C (NC = ceil(T / C)
// chunks, the last one of length T - (NC - 1) C), in the dtype and device of `like`.
struct ChunkDecays {
  at::Tensor intra;  // [1, H, 1, C, C]  a^(i-j) for i >= j, else 0
  at::Tensor q_in;   // [1, H, 1, C, 1]  a^(i+1)
  at::Tensor k_out;  // [1, H, NC, C, 1] a^(L_n-1-j) for j < L_n, else 0
  at::Tensor chunk;  // [1, H, NC, 1, 1] a^(L_n)
};

ChunkDecays chunk_decays(const at::Tensor& decay, int64_t T, int64_t C, const at::Tensor& like) {
  const int64_t H = decay.size(0);
  const int64_t NC = (T + C - 1) / C;
  auto opts = like.options();
  auto lam = decay.to(opts).view({1, H, 1, 1, 1});
  auto pos = at::arange(C, opts);                              // [C]
  auto lengths = (T - at::arange(NC, opts) * C).clamp_max(C);  // [NC] L_n
  ChunkDecays d;
  auto diff = pos.view({C, 1}) - pos.view({1, C});  // i - j
  auto causal = diff.ge(0).to(opts.dtype());
  d.intra = at::exp(-lam * diff.clamp_min(0).view({1, 1, 1, C, C})) * causal;
  d.q_in = at::exp(-lam * (pos + 1).view({1, 1, 1, C, 1}));
  auto to_end = lengths.view({NC, 1}) - 1 - pos.view({1, C});  // L_n - 1 - j  [NC, C]
  auto valid = to_end.ge(0).to(opts.dtype());
  d.k_out =
      at::exp(-lam * to_end.clamp_min(0).view({1, 1, NC, C, 1})) * valid.view({1, 1, NC, C, 1});
  d.chunk = at::exp(-lam * lengths.view({1, 1, NC, 1, 1}));
  return d;
}

// [B, T, H, D] -> [B, H, NC, C, D], zero-padded to NC * C positions.
at::Tensor to_chunks(const at::Tensor& x, int64_t C) {
  const int64_t B = x.size(0), T = x.size(1), H = x.size(2), D = x.size(3);
  const int64_t NC = (T + C - 1) / C;
  auto xt = x.permute({0, 2, 1, 3});  // [B, H, T, D]
  if (NC * C != T) xt = at::constant_pad_nd(xt, {0, 0, 0, NC * C - T});
  return xt.reshape({B, H, NC, C, D});
}

// [B, H, NC, C, D] -> [B, T, H, D], dropping the padding.
at::Tensor from_chunks(const at::Tensor& x, int64_t T) {
  const int64_t B = x.size(0), H = x.size(1), D = x.size(4);
  return x.reshape({B, H, -1, D}).narrow(2, 0, T).permute({0, 2, 1, 3}).contiguous();
}

// States entering each chunk: [B, H, NC, Dk, Dv], from kv [B, H, NC, Dk, Dv] (each chunk's own
// contribution to the state it leaves) and the chunk decays; also returns the final state.
std::tuple<at::Tensor, at::Tensor> chunk_entry_states(const at::Tensor& kv, const ChunkDecays& d,
                                                      const at::Tensor& initial_state) {
  const int64_t NC = kv.size(2);
  auto s = initial_state.defined() ? initial_state : at::zeros_like(kv.select(2, 0));
  std::vector<at::Tensor> entry;
  entry.reserve(static_cast<size_t>(NC));
  for (int64_t n = 0; n < NC; ++n) {
    entry.push_back(s);
    s = d.chunk.select(2, n) * s + kv.select(2, n);
  }
  return {at::stack(entry, 2), s};
}

// One batch of B sequences of equal length T (no packing).
// q, k: [B, T, H, Dk]; v: [B, T, H, Dv]; initial_state: [B, H, Dk, Dv] or undefined.
std::tuple<at::Tensor, at::Tensor> forward_dense(const at::Tensor& q, const at::Tensor& k,
                                                 const at::Tensor& v, const at::Tensor& decay,
                                                 double scale, const at::Tensor& initial_state,
                                                 int64_t C) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  if (T == 0) {
    auto s =
        initial_state.defined() ? initial_state.clone() : at::zeros({B, H, Dk, Dv}, q.options());
    return {at::empty({B, 0, H, Dv}, q.options()), s};
  }
  const auto d = chunk_decays(decay, T, C, q);
  auto qc = to_chunks(q, C), kc = to_chunks(k, C), vc = to_chunks(v, C);  // [B, H, NC, C, D]
  auto scores = at::matmul(qc, kc.transpose(-1, -2)) * d.intra;           // [B, H, NC, C, C]
  auto kv = at::matmul((kc * d.k_out).transpose(-1, -2), vc);             // [B, H, NC, Dk, Dv]
  auto [entry, final_state] = chunk_entry_states(kv, d, initial_state);
  auto o = at::matmul(scores, vc) + at::matmul(qc * d.q_in, entry);  // [B, H, NC, C, Dv]
  return {from_chunks(o * scale, T), final_state};
}

// Gradients for one batch of equal-length sequences; d_o: [B, T, H, Dv], d_final_state:
// [B, H, Dk, Dv] or undefined.
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> backward_dense(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
    double scale, const at::Tensor& initial_state, const at::Tensor& d_o,
    const at::Tensor& d_final_state, int64_t C) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  auto d_state_after =
      d_final_state.defined() ? d_final_state : at::zeros({B, H, Dk, Dv}, q.options());
  if (T == 0) {
    return {at::zeros_like(q), at::zeros_like(k), at::zeros_like(v), d_state_after.clone()};
  }
  const auto d = chunk_decays(decay, T, C, q);
  auto qc = to_chunks(q, C), kc = to_chunks(k, C), vc = to_chunks(v, C);
  auto doc = to_chunks(d_o, C);  // [B, H, NC, C, Dv]
  const int64_t NC = qc.size(2);

  // The states entering each chunk, recomputed (the forward saves only its inputs).
  auto kv = at::matmul((kc * d.k_out).transpose(-1, -2), vc);
  auto entry = std::get<0>(chunk_entry_states(kv, d, initial_state));  // [B, H, NC, Dk, Dv]

  // Adjoint of the state leaving each chunk, by the reverse-time recurrence over chunks.
  auto qdo = at::matmul((qc * d.q_in).transpose(-1, -2), doc) * scale;  // [B, H, NC, Dk, Dv]
  std::vector<at::Tensor> leave(static_cast<size_t>(NC));
  auto r = d_state_after;
  for (int64_t n = NC - 1; n >= 0; --n) {
    leave[static_cast<size_t>(n)] = r;
    r = d.chunk.select(2, n) * r + qdo.select(2, n);
  }
  auto leave_t = at::stack(leave, 2);  // [B, H, NC, Dk, Dv]

  auto scores = at::matmul(qc, kc.transpose(-1, -2)) * d.intra;    // [i, j]: a^(i-j) q_i.k_j
  auto dscores = at::matmul(doc, vc.transpose(-1, -2)) * d.intra;  // [i, j]: a^(i-j) dO_i.v_j
  auto dq = (at::matmul(dscores, kc) + at::matmul(doc * d.q_in, entry.transpose(-1, -2))) * scale;
  auto dk = at::matmul(dscores.transpose(-1, -2), qc) * scale +
            at::matmul(vc * d.k_out, leave_t.transpose(-1, -2));
  auto dv = at::matmul(scores.transpose(-1, -2), doc) * scale + at::matmul(kc * d.k_out, leave_t);
  return {from_chunks(dq, T), from_chunks(dk, T), from_chunks(dv, T), r};
}

// The recurrence for B sequences of equal length, one step at a time.
std::tuple<at::Tensor, at::Tensor> naive_dense(const at::Tensor& q, const at::Tensor& k,
                                               const at::Tensor& v, const at::Tensor& decay,
                                               double scale, const at::Tensor& initial_state) {
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  auto a = at::exp(-decay.to(q.scalar_type())).view({1, H, 1, 1});
  auto s = initial_state.defined() ? initial_state.to(q.scalar_type())
                                   : at::zeros({B, H, Dk, Dv}, q.options());
  std::vector<at::Tensor> outs;
  outs.reserve(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) {
    auto qt = q.select(1, t), kt = k.select(1, t), vt = v.select(1, t);   // [B, H, D]
    s = a * s + kt.unsqueeze(-1) * vt.unsqueeze(-2);                      // [B, H, Dk, Dv]
    outs.push_back(at::matmul(qt.unsqueeze(-2), s).squeeze(-2) * scale);  // [B, H, Dv]
  }
  auto o = T > 0 ? at::stack(outs, 1) : at::empty({B, 0, H, Dv}, q.options());
  return {o, s};
}

}  // namespace

at::Tensor alibi_decay_rates(int64_t num_heads) {
  HALO_CHECK(num_heads >= 1, "alibi_decay_rates: num_heads must be >= 1, got ", num_heads);
  const auto slopes = alibi_slopes(num_heads);
  return at::tensor(slopes, at::kDouble).to(at::kFloat);
}

namespace lightning_detail {

std::tuple<at::Tensor, at::Tensor> chunked_forward(const at::Tensor& q, const at::Tensor& k,
                                                   const at::Tensor& v, const at::Tensor& decay,
                                                   double scale, const at::Tensor& initial_state,
                                                   const std::vector<int64_t>& cu_seqlens,
                                                   int64_t chunk_size) {
  if (cu_seqlens.empty()) return forward_dense(q, k, v, decay, scale, initial_state, chunk_size);
  // Packed: B == 1; each sequence runs alone from its own initial state.
  const int64_t N = static_cast<int64_t>(cu_seqlens.size()) - 1;
  auto o = at::empty({1, q.size(1), q.size(2), v.size(3)}, q.options());
  auto final_state = at::empty({N, q.size(2), q.size(3), v.size(3)}, q.options());
  for (int64_t n = 0; n < N; ++n) {
    const int64_t start = cu_seqlens[static_cast<size_t>(n)];
    const int64_t len = cu_seqlens[static_cast<size_t>(n) + 1] - start;
    auto s0 = initial_state.defined() ? initial_state.narrow(0, n, 1) : at::Tensor();
    auto [on, sn] = forward_dense(q.narrow(1, start, len), k.narrow(1, start, len),
                                  v.narrow(1, start, len), decay, scale, s0, chunk_size);
    o.narrow(1, start, len).copy_(on);
    final_state.narrow(0, n, 1).copy_(sn);
  }
  return {o, final_state};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> chunked_backward(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
    double scale, const at::Tensor& initial_state, const std::vector<int64_t>& cu_seqlens,
    const at::Tensor& d_o, const at::Tensor& d_final_state, int64_t chunk_size) {
  auto d_out =
      d_o.defined() ? d_o : at::zeros({q.size(0), q.size(1), q.size(2), v.size(3)}, q.options());
  if (cu_seqlens.empty()) {
    return backward_dense(q, k, v, decay, scale, initial_state, d_out, d_final_state, chunk_size);
  }
  const int64_t N = static_cast<int64_t>(cu_seqlens.size()) - 1;
  auto dq = at::empty_like(q), dk = at::empty_like(k), dv = at::empty_like(v);
  auto d_initial = at::empty({N, q.size(2), q.size(3), v.size(3)}, q.options());
  for (int64_t n = 0; n < N; ++n) {
    const int64_t start = cu_seqlens[static_cast<size_t>(n)];
    const int64_t len = cu_seqlens[static_cast<size_t>(n) + 1] - start;
    auto s0 = initial_state.defined() ? initial_state.narrow(0, n, 1) : at::Tensor();
    auto dsn = d_final_state.defined() ? d_final_state.narrow(0, n, 1) : at::Tensor();
    auto [dqn, dkn, dvn, ds0] =
        backward_dense(q.narrow(1, start, len), k.narrow(1, start, len), v.narrow(1, start, len),
                       decay, scale, s0, d_out.narrow(1, start, len), dsn, chunk_size);
    dq.narrow(1, start, len).copy_(dqn);
    dk.narrow(1, start, len).copy_(dkn);
    dv.narrow(1, start, len).copy_(dvn);
    d_initial.narrow(0, n, 1).copy_(ds0);
  }
  return {dq, dk, dv, d_initial};
}

std::tuple<at::Tensor, at::Tensor> naive(const at::Tensor& q, const at::Tensor& k,
                                         const at::Tensor& v, const at::Tensor& decay, double scale,
                                         const at::Tensor& initial_state,
                                         const std::vector<int64_t>& cu_seqlens) {
  if (cu_seqlens.empty()) return naive_dense(q, k, v, decay, scale, initial_state);
  // Packed: built from pieces with cat/stack (no in-place writes) so autograd sees through it.
  const int64_t N = static_cast<int64_t>(cu_seqlens.size()) - 1;
  std::vector<at::Tensor> outs, finals;
  for (int64_t n = 0; n < N; ++n) {
    const int64_t start = cu_seqlens[static_cast<size_t>(n)];
    const int64_t len = cu_seqlens[static_cast<size_t>(n) + 1] - start;
    auto s0 = initial_state.defined() ? initial_state.narrow(0, n, 1) : at::Tensor();
    auto [on, sn] = naive_dense(q.narrow(1, start, len), k.narrow(1, start, len),
                                v.narrow(1, start, len), decay, scale, s0);
    outs.push_back(on);
    finals.push_back(sn);
  }
  auto o = N > 0 ? at::cat(outs, 1) : at::empty({1, 0, q.size(2), v.size(3)}, q.options());
  auto final_state =
      N > 0 ? at::cat(finals, 0) : at::empty({0, q.size(2), q.size(3), v.size(3)}, q.options());
  return {o, final_state};
}

}  // namespace lightning_detail

}  // namespace halo::ops
