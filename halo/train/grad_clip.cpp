// Implementation of grad_clip.h.
#include "halo/train/grad_clip.h"

#include <ATen/ATen.h>

namespace halo::train {

double clip_grad_norm(const std::vector<at::Tensor>& params, double max_norm) {
  std::vector<at::Tensor> grads;
  for (const auto& p : params) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  if (grads.empty()) return 0.0;
  at::NoGradGuard no_grad;
  const auto norms = at::_foreach_norm(grads, 2);                              // [] each
  const auto total = norms.size() == 1 ? norms[0] : at::stack(norms).norm(2);  // []
  if (max_norm > 0) {
    const auto coef = at::clamp(max_norm / (total + 1e-6), std::nullopt, 1.0);
    at::_foreach_mul_(grads, coef);
  }
  return total.item<double>();
}

}  // namespace halo::train
