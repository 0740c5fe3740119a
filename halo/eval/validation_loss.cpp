// Implementation of validation_loss.h (and token_batch.h's check).
#include "halo/eval/validation_loss.h"

#include "common/error.h"
#include "halo/eval/language_model.h"
#include "halo/losses/chunked_cross_entropy.h"

#include <algorithm>
#include <cmath>

namespace halo::eval {

void check_token_batch(const TokenBatch& b, const std::string& what) {
  HALO_CHECK(
      b.input_ids.defined() && b.input_ids.dim() == 2 && b.input_ids.scalar_type() == at::kLong,
      what, ": input_ids must be int64 [B, T], got ",
      b.input_ids.defined() ? b.input_ids.sizes() : at::IntArrayRef{});
  HALO_CHECK(b.labels.defined() && b.labels.sizes() == b.input_ids.sizes() &&
                 b.labels.scalar_type() == at::kLong,
             what, ": labels must be int64 [B, T] = ", b.input_ids.sizes(), " like input_ids");
  HALO_CHECK(!b.position_ids.defined() || b.position_ids.sizes() == b.input_ids.sizes(), what,
             ": position_ids must be [B, T] = ", b.input_ids.sizes(), " or absent");
}

double TokenScores::perplexity() const {
  return std::exp(loss);
}

at::Tensor chunked_argmax(const at::Tensor& hidden, const at::Tensor& head, int64_t chunk_tokens) {
  HALO_CHECK(chunk_tokens >= 1, "chunked_argmax: chunk_tokens must be >= 1, got ", chunk_tokens);
  const int64_t N = hidden.size(0);
  auto out = at::empty({N}, hidden.options().dtype(at::kLong));  // [N]
  for (int64_t begin = 0; begin < N; begin += chunk_tokens) {
    const int64_t len = std::min(chunk_tokens, N - begin);
    out.narrow(0, begin, len).copy_(at::mm(hidden.narrow(0, begin, len), head.t()).argmax(1));
  }
  return out;
}

TokenScores score_tokens(hypenet::CausalLM& model, const std::vector<TokenBatch>& batches,
                         int64_t chunk_tokens) {
  at::NoGradGuard no_grad;
  const auto head = output_embedding(model);  // [V, D]
  double loss_sum = 0.0, correct = 0.0;
  TokenScores s;
  for (size_t i = 0; i < batches.size(); ++i) {
    const auto& b = batches[i];
    check_token_batch(b, "validation batch " + std::to_string(i));
    auto hidden = final_hidden(model, b.input_ids, b.position_ids);  // [B, T, D]
    hidden = hidden.reshape({-1, hidden.size(-1)});                  // [N, D]
    auto labels = b.labels.reshape({-1}).to(hidden.device());        // [N]
    auto mask = labels >= 0;                                         // [N]
    const double counted = mask.sum().item<double>();
    if (counted == 0) continue;
    loss_sum += losses::chunked_cross_entropy_loss(hidden, head, labels, mask, chunk_tokens, 1.0)
                    .item<double>();
    auto hits = (chunked_argmax(hidden, head, chunk_tokens) == labels).logical_and_(mask);
    correct += hits.sum().item<double>();
    s.tokens += counted;
    ++s.batches;
  }
  HALO_CHECK(s.tokens > 0, "validation: no counted token in ", batches.size(),
             " batches. HINT: check the validation split and seq_len");
  s.loss = loss_sum / s.tokens;
  s.accuracy = correct / s.tokens;
  return s;
}

}  // namespace halo::eval
