// Lightning Attention entry points: argument checks (once, here), the problem description in
// LightningAttentionParams, and the autograd Function whose forward and backward run the chunked
// ATen code (lightning_attention_cpu.cpp) in float32 (float64 for float64 inputs) on whatever
// device the tensors live. No CUDA kernel yet: CUDA tensors take the same ATen path on the GPU.
#include "ops/lightning_attention/lightning_attention.h"

#include "halo/common/error.h"
#include "ops/lightning_attention/lightning_attention_params.h"

#include <torch/autograd.h>

#include <cmath>
#include <optional>

namespace halo::ops {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Chunk length C (HALO_NOTES 2.1); not tuned yet (no kernel to tune).
constexpr int64_t kChunkSize = 64;

bool is_supported_dtype(at::ScalarType dt) {
  return dt == at::kFloat || dt == at::kBFloat16 || dt == at::kHalf || dt == at::kDouble;
}

// float32 accumulation and state, except float64 inputs (the test reference) stay float64.
at::ScalarType compute_dtype(at::ScalarType input) {
  return input == at::kDouble ? at::kDouble : at::kFloat;
}

LightningAttentionDtype params_dtype(at::ScalarType dt) {
  switch (dt) {
    case at::kBFloat16:
      return LightningAttentionDtype::kBFloat16;
    case at::kHalf:
      return LightningAttentionDtype::kFloat16;
    case at::kDouble:
      return LightningAttentionDtype::kFloat64;
    default:
      return LightningAttentionDtype::kFloat32;
  }
}

// Checks every argument (the message names it and says what it needs) and describes the
// problem. Fills `offsets` with cu_seqlens on the host (empty when not packed).
// q, k: [B, T, H, Dk]; v: [B, T, H, Dv]; decay: [H]; initial_state: [B or N, H, Dk, Dv];
// cu_seqlens: [N + 1].
LightningAttentionParams check_and_describe(const char* op, const at::Tensor& q,
                                            const at::Tensor& k, const at::Tensor& v,
                                            const at::Tensor& decay, double scale,
                                            const at::Tensor& initial_state,
                                            const at::Tensor& cu_seqlens,
                                            std::vector<int64_t>& offsets) {
  HALO_CHECK(q.defined() && k.defined() && v.defined(), op, ": q, k and v are required");
  HALO_CHECK(is_supported_dtype(q.scalar_type()), op,
             ": q must be float32, bfloat16, float16 or float64, got ", q.scalar_type());
  HALO_CHECK(k.scalar_type() == q.scalar_type(), op, ": k must have q's dtype ", q.scalar_type(),
             ", got ", k.scalar_type());
  HALO_CHECK(v.scalar_type() == q.scalar_type(), op, ": v must have q's dtype ", q.scalar_type(),
             ", got ", v.scalar_type());
  HALO_CHECK(q.dim() == 4, op, ": q must be [B, T, H, Dk], got ", q.sizes());
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3);
  HALO_CHECK(k.dim() == 4 && k.sizes() == q.sizes(), op, ": k must be [B, T, H, Dk] = ", q.sizes(),
             " like q, got ", k.sizes());
  HALO_CHECK(v.dim() == 4 && v.size(0) == B && v.size(1) == T && v.size(2) == H, op,
             ": v must be [B, T, H, Dv] with B, T, H = ", B, ", ", T, ", ", H, " as in q, got ",
             v.sizes());
  const int64_t Dv = v.size(3);
  HALO_CHECK(H >= 1 && Dk >= 1 && Dv >= 1, op, ": q and v need H, Dk, Dv >= 1, got q ", q.sizes(),
             " and v ", v.sizes());
  HALO_CHECK(k.device() == q.device() && v.device() == q.device(), op,
             ": k and v must be on q's device ", q.device(), ", got k on ", k.device(),
             " and v on ", v.device());
  HALO_CHECK(std::isfinite(scale), op, ": scale must be finite, got ", scale);

  HALO_CHECK(decay.defined() && decay.dim() == 1 && decay.size(0) == H, op,
             ": decay must be [H] = [", H, "] (one rate per head), got ",
             decay.defined() ? decay.sizes() : at::IntArrayRef{});
  HALO_CHECK(decay.scalar_type() == at::kFloat, op, ": decay must be float32, got ",
             decay.scalar_type());
  HALO_CHECK(decay.device() == q.device(), op, ": decay must be on q's device ", q.device(),
             ", got ", decay.device());
  HALO_CHECK(decay.gt(0).all().item<bool>(), op,
             ": decay must be positive (lambda_h > 0, e.g. alibi_decay_rates(H)), got ", decay);

  int64_t N = B;
  if (cu_seqlens.defined()) {
    HALO_CHECK(
        cu_seqlens.scalar_type() == at::kLong && cu_seqlens.dim() == 1 && cu_seqlens.numel() >= 1,
        op, ": cu_seqlens must be a 1-D int64 tensor [N + 1], got ", cu_seqlens.scalar_type(), " ",
        cu_seqlens.sizes());
    HALO_CHECK(cu_seqlens.device() == q.device(), op, ": cu_seqlens must be on q's device ",
               q.device(), ", got ", cu_seqlens.device());
    HALO_CHECK(B == 1, op, ": cu_seqlens (packed sequences) requires batch size B == 1, got q ",
               q.sizes());
    auto host = cu_seqlens.to(at::kCPU).contiguous();
    offsets.assign(host.data_ptr<int64_t>(), host.data_ptr<int64_t>() + host.numel());
    HALO_CHECK(offsets.front() == 0, op, ": cu_seqlens must start at 0, got ", cu_seqlens);
    HALO_CHECK(offsets.back() == T, op, ": cu_seqlens must end at T = ", T,
               " (q's time size), got ", cu_seqlens);
    for (size_t i = 1; i < offsets.size(); ++i) {
      HALO_CHECK(offsets[i] >= offsets[i - 1], op,
                 ": cu_seqlens must be non-decreasing (zero-length sequences are allowed), got ",
                 cu_seqlens);
    }
    N = static_cast<int64_t>(offsets.size()) - 1;
  }

  const auto state_dtype = compute_dtype(q.scalar_type());
  if (initial_state.defined()) {
    const std::vector<int64_t> expect{N, H, Dk, Dv};
    HALO_CHECK(initial_state.sizes() == at::IntArrayRef(expect), op, ": initial_state must be [",
               cu_seqlens.defined() ? "N" : "B", ", H, Dk, Dv] = ", at::IntArrayRef(expect),
               ", got ", initial_state.sizes());
    HALO_CHECK(initial_state.scalar_type() == state_dtype, op, ": initial_state must be ",
               state_dtype, " for ", q.scalar_type(), " inputs, got ", initial_state.scalar_type());
    HALO_CHECK(initial_state.device() == q.device(), op, ": initial_state must be on q's device ",
               q.device(), ", got ", initial_state.device());
  }

  LightningAttentionParams p;
  p.q = q.data_ptr();
  p.k = k.data_ptr();
  p.v = v.data_ptr();
  p.q_batch_stride = q.stride(0), p.q_time_stride = q.stride(1), p.q_head_stride = q.stride(2);
  p.k_batch_stride = k.stride(0), p.k_time_stride = k.stride(1), p.k_head_stride = k.stride(2);
  p.v_batch_stride = v.stride(0), p.v_time_stride = v.stride(1), p.v_head_stride = v.stride(2);
  p.decay = decay.data_ptr<float>();
  p.scale = static_cast<float>(scale);
  p.initial_state = initial_state.defined() ? initial_state.data_ptr() : nullptr;
  p.cu_seqlens = cu_seqlens.defined() ? cu_seqlens.data_ptr<int64_t>() : nullptr;
  p.batch = B;
  p.seqlen = T;
  p.heads = H;
  p.dim_k = Dk;
  p.dim_v = Dv;
  p.num_seqs = N;
  p.chunk_size = kChunkSize;
  p.dtype = params_dtype(q.scalar_type());
  return p;
}

// Inputs: q, k, v, decay, scale, initial_state (nullopt = zeros: autograd Functions take no
// undefined tensors), the host copy of cu_seqlens (empty = not packed) and the chunk length.
// Outputs: o (input dtype), final_state (compute dtype).
class LightningAttentionFunction : public torch::autograd::Function<LightningAttentionFunction> {
 public:
  // Runs with grad mode off (Function::apply disables it around forward).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v, const at::Tensor& decay, double scale,
                               const std::optional<at::Tensor>& maybe_initial_state,
                               std::vector<int64_t> offsets, int64_t chunk_size) {
    const auto initial_state = maybe_initial_state.value_or(at::Tensor());
    const auto ct = compute_dtype(q.scalar_type());
    auto [o, final_state] = lightning_detail::chunked_forward(
        q.to(ct), k.to(ct), v.to(ct), decay.to(ct), scale, initial_state, offsets, chunk_size);
    ctx->save_for_backward({q, k, v, decay, initial_state});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["offsets"] = offsets;
    ctx->saved_data["chunk_size"] = chunk_size;
    return {o.to(q.scalar_type()), final_state};
  }

  // grads: (d o [B, T, H, Dv] in the input dtype, d final_state). Returns one entry per forward
  // argument: dq, dk, dv, none (decay is fixed), none, d initial_state, none, none.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& q = saved[0];
    const auto& k = saved[1];
    const auto& v = saved[2];
    const auto& decay = saved[3];
    const auto& initial_state = saved[4];
    const double scale = ctx->saved_data["scale"].toDouble();
    const auto offsets = ctx->saved_data["offsets"].toIntVector();
    const int64_t chunk_size = ctx->saved_data["chunk_size"].toInt();
    const auto ct = compute_dtype(q.scalar_type());
    auto d_o = grads[0].defined() ? grads[0].to(ct) : at::Tensor();
    auto d_final = grads[1].defined() ? grads[1].to(ct) : at::Tensor();
    auto [dq, dk, dv, d_initial] =
        lightning_detail::chunked_backward(q.to(ct), k.to(ct), v.to(ct), decay.to(ct), scale,
                                           initial_state, offsets, d_o, d_final, chunk_size);
    const auto dt = q.scalar_type();
    return {dq.to(dt),    dk.to(dt),    dv.to(dt),
            at::Tensor(), at::Tensor(), initial_state.defined() ? d_initial : at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::tuple<at::Tensor, at::Tensor> lightning_attention(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, const at::Tensor& decay,
                                                       double scale,
                                                       const at::Tensor& initial_state,
                                                       const at::Tensor& cu_seqlens) {
  std::vector<int64_t> offsets;
  const auto p = check_and_describe("lightning_attention", q, k, v, decay, scale, initial_state,
                                    cu_seqlens, offsets);
  // The ATen chunked path (CPU, and CUDA until a kernel lands); it allocates its own outputs.
  const auto maybe_initial_state =
      initial_state.defined() ? std::optional<at::Tensor>(initial_state) : std::nullopt;
  auto outs = LightningAttentionFunction::apply(q, k, v, decay, scale, maybe_initial_state, offsets,
                                                p.chunk_size);
  return {outs[0], outs[1]};
}

std::tuple<at::Tensor, at::Tensor> lightning_attention_naive(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& decay,
    double scale, const at::Tensor& initial_state, const at::Tensor& cu_seqlens) {
  std::vector<int64_t> offsets;
  check_and_describe("lightning_attention_naive", q, k, v, decay, scale, initial_state, cu_seqlens,
                     offsets);
  auto [o, final_state] = lightning_detail::naive(q, k, v, decay, scale, initial_state, offsets);
  return {o, final_state.to(compute_dtype(q.scalar_type()))};
}

}  // namespace halo::ops
