// Implementation of chunked_cross_entropy.h: the argument checks and the autograd Function.
#include "halo/losses/chunked_cross_entropy.h"

#include "common/error.h"
#include "halo/losses/loss_inputs.h"

#include <torch/autograd.h>

#include <algorithm>

namespace halo::losses {

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class ChunkedCrossEntropy : public torch::autograd::Function<ChunkedCrossEntropy> {
 public:
  // h: [N, D]; w: [V, D]; labels: [N] int64 (already 0 where mask is false); mask: [N] bool.
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& h, const at::Tensor& w,
                            const at::Tensor& labels, const at::Tensor& mask, int64_t chunk,
                            double normalizer) {
    at::NoGradGuard no_grad;
    const auto dt = loss_compute_dtype(h.scalar_type());
    const int64_t N = h.size(0);
    auto lse = at::empty({N}, h.options().dtype(dt));  // [N]
    auto total = at::zeros({}, h.options().dtype(dt));
    for (int64_t begin = 0; begin < N; begin += chunk) {
      const int64_t len = std::min(chunk, N - begin);
      auto z = chunk_logits(h, w, begin, len, dt);  // [len, V]
      auto l = at::logsumexp(z, {1});               // [len]
      lse.narrow(0, begin, len).copy_(l);
      auto target = z.gather(1, labels.narrow(0, begin, len).unsqueeze(1)).squeeze(1);  // [len]
      auto nll = l - target;
      total.add_(at::where(mask.narrow(0, begin, len), nll, at::zeros({}, nll.options())).sum());
    }
    ctx->save_for_backward({h, w, labels, mask, lse});
    ctx->saved_data["chunk"] = chunk;
    ctx->saved_data["normalizer"] = normalizer;
    return total / normalizer;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &h = saved[0], &w = saved[1], &labels = saved[2], &mask = saved[3], &lse = saved[4];
    const int64_t chunk = ctx->saved_data["chunk"].toInt();
    const double normalizer = ctx->saved_data["normalizer"].toDouble();
    const bool want_hidden = ctx->needs_input_grad(0), want_head = ctx->needs_input_grad(1);
    const auto dt = loss_compute_dtype(h.scalar_type());
    const int64_t N = h.size(0);
    const auto scale = grad_outputs[0].to(dt) / normalizer;              // []
    at::Tensor grad_h = want_hidden ? at::zeros_like(h) : at::Tensor();  // [N, D]
    at::Tensor grad_w =
        want_head ? at::zeros(w.sizes(), w.options().dtype(dt)) : at::Tensor();  // [V, D]
    for (int64_t begin = 0; (want_hidden || want_head) && begin < N; begin += chunk) {
      const int64_t len = std::min(chunk, N - begin);
      auto p = chunk_logits(h, w, begin, len, dt);            // [len, V]
      p.sub_(lse.narrow(0, begin, len).unsqueeze(1)).exp_();  // softmax
      // d nll_n / d z_n = softmax - onehot(label), times scale on counted rows, 0 elsewhere.
      p.scatter_add_(1, labels.narrow(0, begin, len).unsqueeze(1),
                     at::full({len, 1}, -1.0, p.options()));
      // where, not a product, so NaN or inf in a masked row cannot leak in.
      auto counted = mask.narrow(0, begin, len).unsqueeze(1);  // [len, 1]
      auto g = at::where(counted, p.mul_(scale), at::zeros({}, p.options()))
                   .to(h.scalar_type());  // [len, V]
      if (want_hidden) grad_h.narrow(0, begin, len).copy_(at::mm(g, w));
      if (want_head) {
        auto rows = at::where(counted, h.narrow(0, begin, len), at::zeros({}, h.options()));
        grad_w.add_(at::mm(g.t(), rows).to(dt));  // [V, D]
      }
    }
    return {grad_h,       want_head ? grad_w.to(w.scalar_type()) : at::Tensor(),
            at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor chunked_cross_entropy_loss(const at::Tensor& hidden, const at::Tensor& head,
                                      const at::Tensor& labels, const at::Tensor& mask,
                                      int64_t chunk_tokens, double normalizer) {
  constexpr const char* op = "chunked_cross_entropy_loss";
  check_hidden_and_head(op, "", hidden, head);
  check_mask_chunk_normalizer(op, hidden, mask, chunk_tokens, normalizer);
  const int64_t N = hidden.size(0), V = head.size(0);
  HALO_CHECK(labels.defined() && labels.dim() == 1 && labels.size(0) == N, op,
             ": labels must be [N] = [", N, "], got ",
             labels.defined() ? labels.sizes() : at::IntArrayRef{});
  HALO_CHECK(labels.scalar_type() == at::kLong, op, ": labels must be int64, got ",
             labels.scalar_type());
  HALO_CHECK(labels.device() == hidden.device(), op, ": labels must be on ", hidden.device(),
             ", got ", labels.device());
  // Ignored rows may hold any label (e.g. -100): gather reads row 0 there, masked out later.
  auto safe_labels = at::where(mask, labels, at::zeros({}, labels.options()));  // [N]
  if (N > 0) {
    const auto lo = safe_labels.min().item<int64_t>(), hi = safe_labels.max().item<int64_t>();
    HALO_CHECK(lo >= 0 && hi < V, op, ": labels of counted positions must lie in [0, ", V,
               "), got values in [", lo, ", ", hi, "]. HINT: mark ignored positions false in mask");
  }
  return ChunkedCrossEntropy::apply(autocast_operand(hidden), autocast_operand(head), safe_labels,
                                    mask, chunk_tokens, normalizer);
}

}  // namespace halo::losses
