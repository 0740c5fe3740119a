// Lightning Attention entry points: argument checks (once, here), the problem description in
// LightningAttentionParams, and the autograd Function. Its forward and backward run the CUDA
// sweep kernels (lightning_attention_launch.cu) when the tensors live on a GPU and the sizes are
// ones the kernels take (lightning_attention_uses_cuda_kernels), otherwise the chunked ATen code
// (lightning_attention_cpu.cpp) in float32 (float64 for float64 inputs). A single step without
// gradients (T = 1, decode) on a GPU runs the decode kernel.
#include "ops/lightning_attention/lightning_attention.h"

#include "common/error.h"
#include "ops/lightning_attention/lightning_attention_params.h"

#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>

#if HALO_WITH_CUDA
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <deque>
#include <limits>
#include <optional>
#include <utility>

namespace halo::ops {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Chunk length C of the chunked ATen path (HALO_NOTES 2.1); the CUDA kernels use
// kLightningCudaChunk (lightning_attention_params.h).
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

// Whether every rate of `decay` is > 0, remembering the tensors this thread found so with the
// version they had then: on a GPU the check is a device-to-host copy (.item()) that waits for all
// queued work, and a model passes the same decay tensor on every call. An in-place change bumps
// the version and is checked again; holding the (tiny) tensors keeps their addresses from being
// reused by others. Inference tensors have no version: always checked.
bool decay_known_positive(const at::Tensor& decay) {
  constexpr size_t kRemembered = 64;
  thread_local std::deque<std::pair<at::Tensor, int64_t>> known;
  const bool versioned = !decay.is_inference();
  if (versioned) {
    for (const auto& [t, version] : known) {
      if (t.is_same(decay) && version == decay._version()) return true;
    }
  }
  if (!decay.gt(0).all().item<bool>()) return false;
  if (versioned) {
    if (known.size() == kRemembered) known.pop_front();
    known.emplace_back(decay, decay._version());
  }
  return true;
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
  HALO_CHECK(decay_known_positive(decay), op,
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

std::atomic<bool> g_poison_outputs{false};

#if HALO_WITH_CUDA
// x itself when its rows suit the kernels' 16-byte loads (unit last stride, other strides and
// the data pointer 16-byte aligned), else an aligned contiguous copy.
at::Tensor aligned_rows(const at::Tensor& x) {
  const int64_t vec = 16 / static_cast<int64_t>(x.element_size());
  bool ok = x.stride(-1) == 1 && reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0;
  for (int64_t d = 0; d + 1 < x.dim(); ++d) ok = ok && x.stride(d) % vec == 0;
  return ok ? x : x.clone(at::MemoryFormat::Contiguous);
}

void maybe_poison(const std::vector<at::Tensor>& outputs) {
  if (!g_poison_outputs.load()) return;
  for (auto t : outputs) t.fill_(std::numeric_limits<double>::quiet_NaN());
}

// One sweep (LightningSweepParams): x, y [B, T, H, Dxy], z and out [B, T, H, Dz]; states are
// float32 [N, H, ., .] with the given (row, column) strides; undefined = none.
struct SweepStates {
  at::Tensor initial;
  int64_t initial_row_stride = 0, initial_col_stride = 0;
  at::Tensor final_state;
  int64_t final_row_stride = 0, final_col_stride = 0;
};
struct SweepConstants {
  bool reverse;
  int in_exponent, update_exponent;
  float out_scale, state_out_scale, update_scale;
};

// How the sequences split into chunks of kLightningCudaChunk: total count, and with packed
// sequences each one's first chunk number ([N + 1] int64 on the device).
struct ChunkLayout {
  int64_t total = 0;
  at::Tensor offsets;
};

ChunkLayout chunk_layout(int64_t B, int64_t T, const std::vector<int64_t>& cu_host,
                         const at::Device& device) {
  constexpr int64_t C = kLightningCudaChunk;
  ChunkLayout layout;
  if (cu_host.empty()) {
    layout.total = B * ((T + C - 1) / C);
    return layout;
  }
  std::vector<int64_t> offsets{0};
  for (size_t i = 1; i < cu_host.size(); ++i) {
    offsets.push_back(offsets.back() + (cu_host[i] - cu_host[i - 1] + C - 1) / C);
  }
  layout.total = offsets.back();
  layout.offsets = at::tensor(offsets, at::kLong).to(device);
  return layout;
}

// A sweep's inputs, sizes, chunk layout and constants (no states, no workspace).
LightningSweepParams sweep_params(const at::Tensor& x, const at::Tensor& y, const at::Tensor& z,
                                  const at::Tensor& out, const at::Tensor& decay,
                                  const at::Tensor& cu_seqlens, int64_t num_seqs,
                                  const ChunkLayout& chunks, const SweepConstants& c, bool tf32) {
  LightningSweepParams p;
  p.chunk_offsets = chunks.offsets.defined() ? chunks.offsets.data_ptr<int64_t>() : nullptr;
  p.total_chunks = chunks.total;
  p.x = x.data_ptr(), p.y = y.data_ptr(), p.z = z.data_ptr(), p.out = out.data_ptr();
  p.x_batch_stride = x.stride(0), p.x_time_stride = x.stride(1), p.x_head_stride = x.stride(2);
  p.y_batch_stride = y.stride(0), p.y_time_stride = y.stride(1), p.y_head_stride = y.stride(2);
  p.z_batch_stride = z.stride(0), p.z_time_stride = z.stride(1), p.z_head_stride = z.stride(2);
  p.out_batch_stride = out.stride(0), p.out_time_stride = out.stride(1);
  p.out_head_stride = out.stride(2);
  p.decay = decay.data_ptr<float>();
  p.cu_seqlens = cu_seqlens.defined() ? cu_seqlens.data_ptr<int64_t>() : nullptr;
  p.batch = x.size(0), p.seqlen = x.size(1), p.heads = x.size(2);
  p.dim_xy = x.size(3), p.dim_z = z.size(3), p.num_seqs = num_seqs;
  p.reverse = c.reverse;
  p.in_exponent = c.in_exponent, p.update_exponent = c.update_exponent;
  p.out_scale = c.out_scale, p.state_out_scale = c.state_out_scale;
  p.update_scale = c.update_scale;
  p.dtype = params_dtype(x.scalar_type());
  p.tf32 = tf32 && p.dtype == LightningAttentionDtype::kFloat32;
  return p;
}

// A sweep with its states and the workspace of its state pass, which `p` points into.
struct SweepWork {
  LightningSweepParams p;
  at::Tensor chunk_states;                     // [chunks, H, Dxy, Dz] input dtype
  at::Tensor segment_finals, segment_entries;  // [N * segments, H, Dxy, Dz] float32
};

SweepWork sweep_work(const LightningSweepParams& params, const SweepStates& st,
                     const at::TensorOptions& input_options) {
  SweepWork w;
  w.p = params;
  LightningSweepParams& p = w.p;
  const auto float_options = input_options.dtype(at::kFloat);
  w.chunk_states = at::empty({p.total_chunks, p.heads, p.dim_xy, p.dim_z}, input_options);
  p.chunk_states = w.chunk_states.data_ptr();
  if (st.initial.defined()) {
    p.initial_state = st.initial.data_ptr<float>();
    p.initial_row_stride = st.initial_row_stride, p.initial_col_stride = st.initial_col_stride;
  }
  if (st.final_state.defined()) {
    p.final_state = st.final_state.data_ptr<float>();
    p.final_row_stride = st.final_row_stride, p.final_col_stride = st.final_col_stride;
  }
  lightning_sweep_segments(p, &p.segments, &p.segment_chunks);
  if (p.segments > 1) {
    w.segment_finals =
        at::empty({p.num_seqs * p.segments, p.heads, p.dim_xy, p.dim_z}, float_options);
    w.segment_entries = at::empty_like(w.segment_finals);
    p.segment_finals = w.segment_finals.data_ptr<float>();
    p.segment_entries = w.segment_entries.data_ptr<float>();
  }
  return w;
}

// The output pass of sweep `reader` on the states of `owner`'s state pass, transposed (the dk
// sweep on the dv sweep's adjoint: R^T from its [Dk, Dv] blocks). Same chunk layout.
LightningSweepParams reading_transposed_states(LightningSweepParams reader,
                                               const LightningSweepParams& owner) {
  reader.state_transposed = true;
  reader.chunk_states = owner.chunk_states;
  reader.segments = owner.segments, reader.segment_chunks = owner.segment_chunks;
  reader.segment_entries = owner.segment_entries;
  return reader;
}

void check_launch(int err, const char* what, const LightningSweepParams& p) {
  HALO_CHECK(err == 0, "lightning_attention: CUDA ", what, " kernel failed with error ", err,
             " (B ", p.batch, ", T ", p.seqlen, ", H ", p.heads, ", Dxy ", p.dim_xy, ", Dz ",
             p.dim_z, ")");
}

// One whole sweep (state pass and output pass) on the current stream.
void run_sweep(const char* what, const at::Tensor& x, const at::Tensor& y, const at::Tensor& z,
               const at::Tensor& out, const at::Tensor& decay, const at::Tensor& cu_seqlens,
               int64_t num_seqs, const ChunkLayout& chunks, const SweepStates& st,
               const SweepConstants& c, bool tf32) {
  const auto w = sweep_work(
      sweep_params(x, y, z, out, decay, cu_seqlens, num_seqs, chunks, c, tf32), st, x.options());
  check_launch(lightning_sweep_cuda(w.p, c10::cuda::getCurrentCUDAStream().stream()), what, w.p);
}

// The forward on the GPU: (q, k, v) sweep forward with S [Dk, Dv].
std::tuple<at::Tensor, at::Tensor> cuda_forward(const at::Tensor& q_in, const at::Tensor& k_in,
                                                const at::Tensor& v_in, const at::Tensor& decay,
                                                double scale, const at::Tensor& initial_state,
                                                const at::Tensor& cu_seqlens,
                                                const std::vector<int64_t>& cu_host,
                                                int64_t num_seqs, bool tf32) {
  c10::cuda::CUDAGuard guard(q_in.device());
  auto q = aligned_rows(q_in), k = aligned_rows(k_in), v = aligned_rows(v_in);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  const auto chunks = chunk_layout(B, T, cu_host, q.device());
  auto o = at::empty({B, T, H, Dv}, q.options());
  auto final_state = at::empty({num_seqs, H, Dk, Dv}, q.options().dtype(at::kFloat));
  maybe_poison({o, final_state});
  SweepStates st;
  if (initial_state.defined()) {
    st.initial = initial_state.contiguous();
    st.initial_row_stride = Dv, st.initial_col_stride = 1;
  }
  st.final_state = final_state, st.final_row_stride = Dv, st.final_col_stride = 1;
  const float s = static_cast<float>(scale);
  run_sweep("forward", q, k, v, o, decay, cu_seqlens, num_seqs, chunks, st,
            {false, 1, 0, s, s, 1.f}, tf32);
  return {o, final_state};
}

// The backward on the GPU, three sweeps (see LightningSweepParams):
//   dv = (k, q, dO) in reverse with the adjoint R [Dk, Dv], starting at dS_final, ending at
//        d initial_state;
//   dk = (v, dO, q) in reverse with R^T: the same state, so only its output pass runs, reading
//        dv's chunk states transposed (one state pass fewer of four per forward+backward);
//   dq = (dO, v, k) forward with S^T, starting at initial_state^T.
// In reverse the state enters undecayed (exponent 0) and the update carries scale and one more
// decay (exponent 1): R_in = a^L R + scale sum_i a^(i+1) q_i^T dO_i (lightning_attention_cpu.cpp).
std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> cuda_backward(
    const at::Tensor& q_in, const at::Tensor& k_in, const at::Tensor& v_in,
    const at::Tensor& decay, double scale, const at::Tensor& initial_state,
    const at::Tensor& cu_seqlens, const std::vector<int64_t>& cu_host, int64_t num_seqs,
    const at::Tensor& d_o_in, const at::Tensor& d_final_in, bool tf32) {
  c10::cuda::CUDAGuard guard(q_in.device());
  auto q = aligned_rows(q_in), k = aligned_rows(k_in), v = aligned_rows(v_in);
  const int64_t B = q.size(0), T = q.size(1), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  const auto chunks = chunk_layout(B, T, cu_host, q.device());
  auto d_o = d_o_in.defined() ? aligned_rows(d_o_in.to(q.scalar_type()))
                              : at::zeros({B, T, H, Dv}, q.options());
  auto d_final = d_final_in.defined() ? d_final_in.to(at::kFloat).contiguous() : at::Tensor();
  auto dq = at::empty_like(q, at::MemoryFormat::Contiguous);
  auto dk = at::empty_like(k, at::MemoryFormat::Contiguous);
  auto dv = at::empty_like(v, at::MemoryFormat::Contiguous);
  auto d_initial = at::empty({num_seqs, H, Dk, Dv}, q.options().dtype(at::kFloat));
  maybe_poison({dq, dk, dv, d_initial});
  const float s = static_cast<float>(scale);
  const SweepConstants reverse{true, 0, 1, s, 1.f, s};

  // dq runs on a side stream beside the adjoint's state pass (each a few CTAs per SM, so they
  // overlap); dk's output pass on another once that state pass is done, beside dv's. Every
  // input was written on the current stream before `ready`; the current stream waits for both
  // side streams before returning, so nothing they read or write is freed or reused early.
  const auto current = c10::cuda::getCurrentCUDAStream();
  at::cuda::CUDAEvent ready, adjoint_ready;
  ready.record(current);
  const std::array<c10::cuda::CUDAStream, 2> side = {
      c10::cuda::getStreamFromPool(false, q.device().index()),
      c10::cuda::getStreamFromPool(false, q.device().index())};
  std::array<at::cuda::CUDAEvent, 2> done;

  {
    c10::cuda::CUDAStreamGuard on(side[1]);
    ready.block(side[1]);
    SweepStates state_t;  // S^T [Dv, Dk]
    if (initial_state.defined()) state_t.initial = initial_state.contiguous();
    state_t.initial_row_stride = 1, state_t.initial_col_stride = Dv;
    run_sweep("backward (dq)", d_o, v, k, dq, decay, cu_seqlens, num_seqs, chunks, state_t,
              {false, 1, 0, s, s, 1.f}, tf32);
    done[1].record(side[1]);
  }
  SweepStates adjoint;  // R [Dk, Dv]
  if (d_final.defined()) adjoint.initial = d_final;
  adjoint.initial_row_stride = Dv, adjoint.initial_col_stride = 1;
  adjoint.final_state = d_initial, adjoint.final_row_stride = Dv, adjoint.final_col_stride = 1;
  const auto wv =
      sweep_work(sweep_params(k, q, d_o, dv, decay, cu_seqlens, num_seqs, chunks, reverse, tf32),
                 adjoint, k.options());
  check_launch(lightning_sweep_state_cuda(wv.p, current.stream()), "backward (adjoint state)",
               wv.p);
  adjoint_ready.record(current);
  {
    c10::cuda::CUDAStreamGuard on(side[0]);
    adjoint_ready.block(side[0]);
    const auto pk = reading_transposed_states(
        sweep_params(v, d_o, q, dk, decay, cu_seqlens, num_seqs, chunks, reverse, tf32), wv.p);
    check_launch(lightning_sweep_output_cuda(pk, side[0].stream()), "backward (dk)", pk);
    done[0].record(side[0]);
  }
  check_launch(lightning_sweep_output_cuda(wv.p, current.stream()), "backward (dv)", wv.p);
  done[0].block(current);
  done[1].block(current);
  return {dq, dk, dv, d_initial};
}

// T == 1 without gradients: one recurrence step per (sequence, head).
std::tuple<at::Tensor, at::Tensor> cuda_decode(const at::Tensor& q_in, const at::Tensor& k_in,
                                               const at::Tensor& v_in, const at::Tensor& decay,
                                               double scale, const at::Tensor& initial_state) {
  c10::cuda::CUDAGuard guard(q_in.device());
  auto q = q_in.contiguous(), k = k_in.contiguous(), v = v_in.contiguous();
  const int64_t B = q.size(0), H = q.size(2), Dk = q.size(3), Dv = v.size(3);
  auto o = at::empty({B, 1, H, Dv}, q.options());
  auto final_state = at::empty({B, H, Dk, Dv}, q.options().dtype(at::kFloat));
  maybe_poison({o, final_state});
  auto init = initial_state.defined() ? initial_state.contiguous() : at::Tensor();
  LightningAttentionParams p;
  p.q = q.data_ptr(), p.k = k.data_ptr(), p.v = v.data_ptr(), p.o = o.data_ptr();
  p.q_batch_stride = q.stride(0), p.q_head_stride = q.stride(2);
  p.k_batch_stride = k.stride(0), p.k_head_stride = k.stride(2);
  p.v_batch_stride = v.stride(0), p.v_head_stride = v.stride(2);
  p.decay = decay.data_ptr<float>();
  p.scale = static_cast<float>(scale);
  p.initial_state = init.defined() ? init.data_ptr() : nullptr;
  p.final_state = final_state.data_ptr();
  p.batch = B, p.seqlen = 1, p.heads = H, p.dim_k = Dk, p.dim_v = Dv, p.num_seqs = B;
  p.dtype = params_dtype(q.scalar_type());
  const int err = lightning_decode_cuda(p, c10::cuda::getCurrentCUDAStream().stream());
  HALO_CHECK(err == 0, "lightning_attention: CUDA decode kernel failed with error ", err, " (B ",
             B, ", H ", H, ", Dk ", Dk, ", Dv ", Dv, ")");
  return {o, final_state};
}
#endif

// Inputs: q, k, v, decay, scale, initial_state (nullopt = zeros: autograd Functions take no
// undefined tensors), the host copy of cu_seqlens (empty = not packed), the device tensor of
// cu_seqlens (for the CUDA kernels), the chunk length and tf32 (lightning_attention.h).
// Outputs: o (input dtype), final_state (compute dtype).
class LightningAttentionFunction : public torch::autograd::Function<LightningAttentionFunction> {
 public:
  // Runs with grad mode off (Function::apply disables it around forward).
  static variable_list forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k,
                               const at::Tensor& v, const at::Tensor& decay, double scale,
                               const std::optional<at::Tensor>& maybe_initial_state,
                               std::vector<int64_t> offsets,
                               const std::optional<at::Tensor>& maybe_cu_seqlens,
                               int64_t chunk_size, [[maybe_unused]] bool tf32) {
    const auto initial_state = maybe_initial_state.value_or(at::Tensor());
    const auto cu_seqlens = maybe_cu_seqlens.value_or(at::Tensor());
    ctx->save_for_backward({q, k, v, decay, initial_state, cu_seqlens});
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["offsets"] = offsets;
    ctx->saved_data["chunk_size"] = chunk_size;
    ctx->saved_data["tf32"] = tf32;
#if HALO_WITH_CUDA
    if (lightning_attention_uses_cuda_kernels(q, v)) {
      const int64_t N = offsets.empty() ? q.size(0) : static_cast<int64_t>(offsets.size()) - 1;
      auto [o, final_state] = cuda_forward(q, k, v, decay, scale, initial_state, cu_seqlens,
                                           offsets, N, tf32);
      return {o, final_state};
    }
#endif
    const auto ct = compute_dtype(q.scalar_type());
    auto [o, final_state] = lightning_detail::chunked_forward(
        q.to(ct), k.to(ct), v.to(ct), decay.to(ct), scale, initial_state, offsets, chunk_size);
    return {o.to(q.scalar_type()), final_state};
  }

  // grads: (d o [B, T, H, Dv] in the input dtype, d final_state). Returns one entry per forward
  // argument: dq, dk, dv, none (decay is fixed), none, d initial_state, none, none, none, none.
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& q = saved[0];
    const auto& k = saved[1];
    const auto& v = saved[2];
    const auto& decay = saved[3];
    const auto& initial_state = saved[4];
    const auto& cu_seqlens = saved[5];
    const double scale = ctx->saved_data["scale"].toDouble();
    const auto offsets = ctx->saved_data["offsets"].toIntVector();
    const int64_t chunk_size = ctx->saved_data["chunk_size"].toInt();
    [[maybe_unused]] const bool tf32 = ctx->saved_data["tf32"].toBool();
    const auto dt = q.scalar_type();
    at::Tensor dq, dk, dv, d_initial;
#if HALO_WITH_CUDA
    if (lightning_attention_uses_cuda_kernels(q, v)) {
      const int64_t N = offsets.empty() ? q.size(0) : static_cast<int64_t>(offsets.size()) - 1;
      std::tie(dq, dk, dv, d_initial) =
          cuda_backward(q, k, v, decay, scale, initial_state, cu_seqlens, offsets, N, grads[0],
                        grads[1], tf32);
    }
#endif
    if (!dq.defined()) {
      const auto ct = compute_dtype(dt);
      auto d_o = grads[0].defined() ? grads[0].to(ct) : at::Tensor();
      auto d_final = grads[1].defined() ? grads[1].to(ct) : at::Tensor();
      std::tie(dq, dk, dv, d_initial) =
          lightning_detail::chunked_backward(q.to(ct), k.to(ct), v.to(ct), decay.to(ct), scale,
                                             initial_state, offsets, d_o, d_final, chunk_size);
    }
    return {dq.to(dt),    dk.to(dt),    dv.to(dt),
            at::Tensor(), at::Tensor(), initial_state.defined() ? d_initial : at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

std::tuple<at::Tensor, at::Tensor> lightning_attention(const at::Tensor& q, const at::Tensor& k,
                                                       const at::Tensor& v, const at::Tensor& decay,
                                                       double scale,
                                                       const at::Tensor& initial_state,
                                                       const at::Tensor& cu_seqlens, bool tf32) {
  std::vector<int64_t> offsets;
  const auto p = check_and_describe("lightning_attention", q, k, v, decay, scale, initial_state,
                                    cu_seqlens, offsets);
#if HALO_WITH_CUDA
  const bool needs_grad =
      at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() ||
                                     v.requires_grad() ||
                                     (initial_state.defined() && initial_state.requires_grad()));
  if (q.is_cuda() && p.seqlen == 1 && !cu_seqlens.defined() && !needs_grad &&
      q.scalar_type() != at::kDouble) {
    return cuda_decode(q, k, v, decay, scale, initial_state);
  }
#endif
  if (q.is_cuda()) {
    const auto why = lightning_detail::cuda_fallback_reason(HALO_WITH_CUDA != 0, q.scalar_type(),
                                                            p.dim_k, p.dim_v);
    if (!why.empty()) lightning_detail::warn_cuda_fallback_once(q, v, why);
  }
  const auto maybe_initial_state =
      initial_state.defined() ? std::optional<at::Tensor>(initial_state) : std::nullopt;
  const auto maybe_cu_seqlens =
      cu_seqlens.defined() ? std::optional<at::Tensor>(cu_seqlens) : std::nullopt;
  auto outs = LightningAttentionFunction::apply(q, k, v, decay, scale, maybe_initial_state, offsets,
                                                maybe_cu_seqlens, p.chunk_size, tf32);
  return {outs[0], outs[1]};
}

bool lightning_attention_uses_cuda_kernels(const at::Tensor& q, const at::Tensor& v) {
  return q.is_cuda() && lightning_detail::cuda_fallback_reason(HALO_WITH_CUDA != 0, q.scalar_type(),
                                                               q.size(3), v.size(3))
                            .empty();
}

namespace lightning_detail {

void set_poison_outputs(bool poison) { g_poison_outputs.store(poison); }

std::string cuda_fallback_reason(bool cuda_build, at::ScalarType dtype, int64_t dim_k,
                                 int64_t dim_v) {
  if (!cuda_build) return "this build has no CUDA kernels (built with HALO_WITH_CUDA off)";
  if (dtype != at::kFloat && dtype != at::kBFloat16 && dtype != at::kHalf) {
    return str_cat("the CUDA kernels take float32, bfloat16 and float16, not ", dtype);
  }
  // Forward (q, k, v): Dxy = Dk, Dz = Dv; the dq and dk sweeps swap them.
  if (!lightning_sweep_supports(dim_k, dim_v) || !lightning_sweep_supports(dim_v, dim_k)) {
    return str_cat("the CUDA kernels take head dims Dk and Dv of 64 or 128 only, got Dk = ", dim_k,
                   ", Dv = ", dim_v);
  }
  return {};
}

bool warn_cuda_fallback_once(const at::Tensor& q, const at::Tensor& v, const std::string& reason) {
  static std::atomic<bool> warned{false};
  if (warned.exchange(true)) return false;
  // stderr, like the project's other warnings, so a command's standard output (logits, JSONL
  // answers) stays clean. Not spdlog: Debian's spdlog 1.10 does not compile against the fmt 12
  // that LibTorch's include folder puts first on the include path.
  const std::string text = str_cat(
      "warning: lightning_attention: GPU inputs q ", q.sizes(), " and v ", v.sizes(), " (",
      q.scalar_type(), ") run on the chunked ATen path, not the CUDA kernels: ", reason,
      ". Same results, several times slower. Printed once per process.\n");
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
  return true;
}

}  // namespace lightning_detail

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
