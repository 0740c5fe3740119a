// Implementation of chunked_kl.h: the argument checks and the autograd Function.
#include "halo/losses/chunked_kl.h"

#include "halo/common/error.h"
#include "halo/losses/loss_inputs.h"

#include <torch/autograd.h>

#include <algorithm>

namespace halo::losses {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ChunkedKL : public torch::autograd::Function<ChunkedKL> {
 public:
  // sh, th: [N, D]; sw, tw: [V, D]; mask: [N] bool.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& sh, const at::Tensor& sw,
                            const at::Tensor& th, const at::Tensor& tw, const at::Tensor& mask,
                            int64_t chunk, double normalizer) {
    at::NoGradGuard no_grad;
    const auto dt = loss_compute_dtype(sh.scalar_type());
    const int64_t N = sh.size(0);
    auto total = at::zeros({}, sh.options().dtype(dt));
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
    }
    ctx->save_for_backward({sh, sw, th, tw, mask});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["normalizer"] = normalizer;
    return total / normalizer;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &sh = saved[0], &sw = saved[1], &th = saved[2], &tw = saved[3];
    const auto& mask = saved[4];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double normalizer = ctx->saved_data["normalizer"].toDouble();
    const bool want_hidden = ctx->needs_input_grad(0), want_head = ctx->needs_input_grad(1);
    const auto dt = loss_compute_dtype(sh.scalar_type());
    const int64_t N = sh.size(0);
    const auto scale = grad_outputs[0].to(dt) / normalizer;                // [] d loss_out / d sum
    at::Tensor grad_sh = want_hidden ? at::zeros_like(sh) : at::Tensor();  // [N, D]
    at::Tensor grad_sw =
        want_head ? at::zeros(sw.sizes(), sw.options().dtype(dt)) : at::Tensor();  // [V, D]
    for (int64_t begin = 0; (want_hidden || want_head) && begin < N; begin += chunk) {
      const int64_t len = std::min(chunk, N - begin);
      auto s = at::softmax(chunk_matmul_logits(sh, sw, begin, len), 1, dt);  // [len, V] p_s
      auto t = at::softmax(chunk_matmul_logits(th, tw, begin, len), 1, dt);  // [len, V] p_t
      // d KL_n / d s_n = p_s - p_t, times d loss / d KL_n: scale on counted rows, 0 elsewhere
      // (where, not a product, so NaN or inf in a masked row cannot leak in).
      auto counted = mask.narrow(0, begin, len).unsqueeze(1);  // [len, 1]
      auto g = at::where(counted, s.sub_(t).mul_(scale), at::zeros({}, s.options()))
                   .to(sh.scalar_type());  // [len, V]
      if (want_hidden) grad_sh.narrow(0, begin, len).copy_(at::mm(g, sw));
      if (want_head) {
        auto rows = at::where(counted, sh.narrow(0, begin, len), at::zeros({}, sh.options()));
        grad_sw.add_(at::mm(g.t(), rows).to(dt));  // [V, D]
      }
    }
    return {grad_sh,      want_head ? grad_sw.to(sw.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(),
            at::Tensor()};
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
  return ChunkedKL::apply(autocast_operand(student_hidden), autocast_operand(student_head),
                          autocast_operand(teacher_hidden.detach()),
                          autocast_operand(teacher_head.detach()), mask, chunk_tokens, normalizer);
}

}  // namespace halo::losses
