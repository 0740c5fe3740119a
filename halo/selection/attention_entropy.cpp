// Implementation of attention_entropy.h.
#include "halo/selection/attention_entropy.h"

#include "common/error.h"

namespace halo::selection {

AttentionEntropy teacher_attention_entropy(hypenet::Qwen3ForCausalLM& teacher,
                                           const std::vector<eval::TokenBatch>& batches) {
  HALO_CHECK(!batches.empty(), "entropy layer selection: no validation batches");
  at::NoGradGuard no_grad;
  const auto device = teacher->output_embedding().device();
  std::vector<at::Tensor> sums;  // per layer [Hq] float64
  double positions = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    eval::check_token_batch(batches[b], "validation batch " + std::to_string(b));
    hypenet::ForwardOptions opt;
    opt.capture_attention_entropy = true;
    opt.skip_logits = true;
    if (batches[b].position_ids.defined()) opt.positions = batches[b].position_ids;
    auto out = teacher->forward(batches[b].input_ids.to(device), opt);
    if (sums.empty()) sums.resize(out.attention_entropy.size());
    for (size_t l = 0; l < sums.size(); ++l) {
      auto per_head =
          out.attention_entropy[l].to(at::kDouble).sum(at::IntArrayRef{0, 2}).cpu();  // [Hq]
      sums[l] = sums[l].defined() ? sums[l] + per_head : per_head;
    }
    positions += static_cast<double>(batches[b].input_ids.numel());
  }
  AttentionEntropy e;
  for (auto& s : sums) {
    auto mean = s / positions;
    e.per_head.emplace_back(mean.data_ptr<double>(), mean.data_ptr<double>() + mean.numel());
    e.per_layer.push_back(mean.mean().item<double>());
  }
  return e;
}

}  // namespace halo::selection
