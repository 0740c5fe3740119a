// Implementation of chunked_kl.h: the argument checks and the autograd Function.
#include "halo/losses/chunked_kl.h"

#include "common/error.h"
#include "halo/losses/loss_inputs.h"

#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>

#include <algorithm>

namespace halo::losses {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// Per chunk [len, V] (len <= chunk): the student and teacher logits, their log-softmaxes in the
// math dtype, the KL row sums; with gradients wanted also p_s - p_t in the input dtype.
class ChunkedKL : public torch::autograd::Function<ChunkedKL> {
 public:
  // sh, th: [N, D]; sw, tw: [V, D]; mask: [N] bool. want_hidden / want_head: whether sh / sw
  // take gradients (then the forward computes them, unscaled, and backward only scales them).
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& sh, const at::Tensor& sw,
                            const at::Tensor& th, const at::Tensor& tw, const at::Tensor& mask,
                            int64_t chunk, double normalizer, bool want_hidden, bool want_head) {
    at::NoGradGuard no_grad;
    const auto dt = loss_compute_dtype(sh.scalar_type());
    const int64_t N = sh.size(0);
    auto total = at::zeros({}, sh.options().dtype(dt));
    // Gradients of the unscaled sum: d/d s_n = p_s - p_t on counted rows, 0 elsewhere.
    at::Tensor grad_sh = want_hidden ? at::empty_like(sh) : at::Tensor();  // [N, D]
    at::Tensor grad_sw =
        want_head ? at::zeros(sw.sizes(), sw.options().dtype(dt)) : at::Tensor();  // [V, D]
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t len = std::min(chunk, N - begin);
      // Few passes over the [len, V] chunk (each is ~2.5 ms at 2048 x 151936 on an H200):
      // log_softmax reads the matmul's output and writes float32 (the cast folded in), kl_div
      // makes exp(lt) * (lt - ls) in one pass, then the row sums.
      auto ls = at::log_softmax(chunk_matmul_logits(sh, sw, begin, len), 1, dt);        // [len, V]
      auto lt = at::log_softmax(chunk_matmul_logits(th, tw, begin, len), 1, dt);        // [len, V]
      auto kl = at::kl_div(ls, lt, at::Reduction::None, /*log_target=*/true).sum({1});  // [len]
      auto counted = mask.narrow(0, begin, len);
      total.add_(at::where(counted, kl, at::zeros({}, kl.options())).sum());
      if (!want_hidden && !want_head) continue;
      // The gradient now, while both softmaxes exist: a backward that recomputed them cost two
      // [len, D] x [D, V] matmuls and two softmax passes per chunk again (about 9 ms of a
      // 408 ms stage-2 step per 2048-token chunk, Qwen3-1.7B shape, H100, docs/benchmarks.md).
      // masked_fill (not a product) keeps NaN or inf of a masked row out.
      auto g = ls.exp_().sub_(lt.exp_()).to(sh.scalar_type());  // [len, V] p_s - p_t
      g.masked_fill_(counted.logical_not().unsqueeze(1), 0);
      if (want_hidden) grad_sh.narrow(0, begin, len).copy_(at::mm(g, sw));
      if (want_head) {
        auto rows = at::where(counted.unsqueeze(1), sh.narrow(0, begin, len),
                              at::zeros({}, sh.options()));
        grad_sw.add_(at::mm(g.t(), rows).to(dt));  // [V, D]
      }
    }
    ctx->saved_data["grad_hidden"] = grad_sh;
    ctx->saved_data["grad_head"] = grad_sw;
    ctx->saved_data["normalizer"] = normalizer;
    ctx->saved_data["math_dtype"] = dt;
    ctx->saved_data["head_dtype"] = sw.scalar_type();
    return total / normalizer;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const double normalizer = ctx->saved_data["normalizer"].toDouble();
    const auto dt = ctx->saved_data["math_dtype"].toScalarType();
    const auto grad_sh = ctx->saved_data["grad_hidden"].toTensor();  // [N, D], input dtype
    const auto grad_sw = ctx->saved_data["grad_head"].toTensor();    // [V, D], math dtype
    const auto scale = grad_outputs[0].to(dt) / normalizer;          // [] d loss_out / d sum
    at::Tensor d_hidden, d_head;
    if (grad_sh.defined() && ctx->needs_input_grad(0)) {
      d_hidden = (grad_sh.to(dt) * scale).to(grad_sh.scalar_type());
    }
    if (grad_sw.defined() && ctx->needs_input_grad(1)) {
      d_head = (grad_sw * scale).to(ctx->saved_data["head_dtype"].toScalarType());
    }
    return {d_hidden,     d_head,       at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_kl_loss(const at::Tensor& student_hidden, const at::Tensor& student_head,
                           const at::Tensor& teacher_hidden, const at::Tensor& teacher_head,
                           const at::Tensor& mask, int64_t chunk_tokens, double normalizer) {
  constexpr const char* op = "chunked_kl_loss";
  check_hidden_and_head(op, "student_", student_hidden, student_head);
  check_hidden_and_head(op, "teacher_", teacher_hidden, teacher_head);
  HALO_CHECK(teacher_hidden.size(0) == student_hidden.size(0), op,
             ": teacher_hidden must have N = ", student_hidden.size(0),
             " rows like student_hidden, got ", teacher_hidden.sizes());
  HALO_CHECK(teacher_head.size(0) == student_head.size(0), op,
             ": teacher_head and student_head must share the vocabulary V, got ",
             teacher_head.sizes(), " and ", student_head.sizes());
  HALO_CHECK(teacher_hidden.device() == student_hidden.device(), op,
             ": teacher and student tensors must share a device, got ", teacher_hidden.device(),
             " and ", student_hidden.device());
  check_mask_chunk_normalizer(op, student_hidden, mask, chunk_tokens, normalizer);
  auto sh = autocast_operand(student_hidden), sw = autocast_operand(student_head);
  const bool grad = at::GradMode::is_enabled();
  return ChunkedKL::apply(sh, sw, autocast_operand(teacher_hidden.detach()),
                          autocast_operand(teacher_head.detach()), mask, chunk_tokens, normalizer,
                          grad && sh.requires_grad(), grad && sw.requires_grad());
}

}  // namespace halo::losses
