// causal_lm_loss: chunked cross-entropy over all positions.
#include "halo/stages/lm_loss.h"

#include "halo/losses/chunked_cross_entropy.h"

namespace halo::stages {

at::Tensor causal_lm_loss(const at::Tensor& hidden, const at::Tensor& head,
                          const at::Tensor& labels, int64_t chunk_tokens, double normalizer) {
  const int64_t D = hidden.size(-1);
  const int64_t N = labels.numel();
  auto mask = at::ones({N}, labels.options().dtype(at::kBool));
  return losses::chunked_cross_entropy_loss(hidden.reshape({N, D}), head, labels.reshape({N}), mask,
                                            chunk_tokens, normalizer);
}

}  // namespace halo::stages
