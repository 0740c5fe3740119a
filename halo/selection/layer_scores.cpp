// Implementation of layer_scores.h.
#include "halo/selection/layer_scores.h"

#include "halo/common/error.h"
#include "halo/eval/language_model.h"
#include "halo/eval/retrieval_eval.h"
#include "halo/eval/validation_loss.h"
#include "halo/losses/chunked_kl.h"
#include "halo/selection/importance.h"
#include "halo/selection/single_swap.h"

namespace halo::selection {

double mean_kl_against(hypenet::CausalLM& model, const std::vector<at::Tensor>& teacher_hidden,
                       const at::Tensor& teacher_head,
                       const std::vector<eval::TokenBatch>& validation, int64_t chunk_tokens) {
  at::NoGradGuard no_grad;
  const auto head = eval::output_embedding(model);  // [V, D]
  double sum = 0.0, count = 0.0;
  for (size_t i = 0; i < validation.size(); ++i) {
    const auto& b = validation[i];
    auto hidden = eval::final_hidden(model, b.input_ids, b.position_ids);  // [B, T, D]
    hidden = hidden.reshape({-1, hidden.size(-1)});                        // [N, D]
    auto t = teacher_hidden[i].reshape({-1, hidden.size(-1)});             // [N, D]
    auto mask = (b.labels.reshape({-1}) >= 0).to(hidden.device());         // [N]
    const double n = mask.sum().item<double>();
    if (n == 0) continue;
    sum += losses::chunked_kl_loss(hidden, head, t.to(hidden.scalar_type()),
                                   teacher_head.to(hidden.scalar_type()), mask, chunk_tokens, 1.0)
               .item<double>();
    count += n;
  }
  HALO_CHECK(count > 0, "kl layer selection: no counted validation token");
  return sum / count;
}

void score_single_swaps(LayerScores& scores, hypenet::Qwen3ForCausalLM& teacher,
                        hypenet::HypeNetForCausalLM& stage1,
                        const std::vector<eval::TokenBatch>& validation,
                        const data::Tokenizer* tokenizer, const std::vector<int64_t>& filler,
                        const SwapScoreOptions& o) {
  HALO_CHECK(!validation.empty(), "layer selection: no validation batches");
  HALO_CHECK(!o.halo || tokenizer, "halo layer selection needs the tokenizer (recall prompts)");
  HALO_CHECK(!o.halo || !o.retrieval_lengths.empty(),
             "halo layer selection needs at least one retrieval context length");
  at::NoGradGuard no_grad;
  const int64_t L = teacher->config().num_hidden_layers;
  scores.num_layers = L;
  auto teacher_lm = eval::causal_lm_of(teacher);
  std::vector<at::Tensor> teacher_hidden;  // per batch [B, T, D]
  if (o.kl) {
    for (const auto& b : validation) {
      eval::check_token_batch(b, "validation batch");
      teacher_hidden.push_back(eval::final_hidden(teacher_lm, b.input_ids, b.position_ids));
    }
  }
  eval::RetrievalOptions r;
  r.context_lengths = o.retrieval_lengths;
  r.samples_per_length = o.retrieval_samples;
  r.seed = o.seed;
  r.batch_size = o.batch_size;
  if (o.halo) {
    scores.recall.assign(L, 0.0);
    scores.commonsense.assign(L, 0.0);
  }
  if (o.kl) scores.kl.assign(L, 0.0);
  for (int64_t i = 0; i < L; ++i) {
    auto swap = eval::causal_lm_of(build_single_swap(teacher, stage1, i));
    if (o.halo) {
      std::vector<eval::RetrievalScore> all;
      for (auto task : {eval::RetrievalTask::kPasskey, eval::RetrievalTask::kKeyValue}) {
        r.task = task;
        auto s = eval::evaluate_retrieval(swap, *tokenizer, filler, r);
        all.insert(all.end(), s.begin(), s.end());
      }
      scores.recall[i] = eval::mean_accuracy(all);
      scores.commonsense[i] = eval::score_tokens(swap, validation, o.chunk_tokens).accuracy;
    }
    if (o.kl) {
      scores.kl[i] = mean_kl_against(swap, teacher_hidden, teacher->output_embedding(), validation,
                                     o.chunk_tokens);
    }
  }
  if (o.halo) scores.importance = halo_importance(scores.recall, scores.commonsense);
}

}  // namespace halo::selection
