// Implementation of layer_scores.h.
#include "halo/selection/layer_scores.h"

#include "common/error.h"
#include "halo/eval/language_model.h"
#include "halo/eval/validation_loss.h"
#include "halo/losses/chunked_kl.h"
#include "halo/selection/importance.h"
#include "halo/selection/single_swap.h"

#include <optional>

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

void score_halo_layer(LayerScores& scores, int64_t layer, const HaloSignal& signal,
                      eval::TaskModel& model, const SignalScore* next_token) {
  const auto L = static_cast<size_t>(scores.num_layers);
  for (auto* v : {&scores.recall, &scores.commonsense, &scores.recall_std_error,
                  &scores.commonsense_std_error}) {
    if (v->size() != L) v->assign(L, 0.0);
  }
  HALO_CHECK(layer >= 0 && static_cast<size_t>(layer) < L, "halo layer selection: layer ", layer,
             " is out of range; the model has ", L, " layers");
  HALO_CHECK(signal.has_mc() || next_token,
             "halo layer selection: no commonsense score (no mc file, no next-token accuracy)");
  const auto r = signal.recall(model);
  const auto c = signal.has_mc() ? signal.commonsense_mc(model) : *next_token;
  scores.recall[layer] = r.mean;
  scores.recall_std_error[layer] = r.std_error;
  scores.commonsense[layer] = c.mean;
  scores.commonsense_std_error[layer] = c.std_error;
}

void score_single_swaps(LayerScores& scores, hypenet::Qwen3ForCausalLM& teacher,
                        hypenet::HypeNetForCausalLM& stage1,
                        const std::vector<eval::TokenBatch>& validation, const HaloSignal* signal,
                        const SwapScoreOptions& o,
                        const std::function<void(const std::string&)>& progress) {
  HALO_CHECK(!validation.empty(), "layer selection: no validation batches");
  HALO_CHECK(!o.halo || signal, "halo layer selection needs its recall signal (tokenizer, filler)");
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
  if (o.kl) scores.kl.assign(L, 0.0);
  for (int64_t i = 0; i < L; ++i) {
    auto swap = eval::causal_lm_of(build_single_swap(teacher, stage1, i));
    std::string line = "layer selection: single-swap model " + std::to_string(i) + ":";
    if (o.halo) {
      eval::LmTaskOptions lo;
      lo.batch_size = o.batch_size;
      eval::LmTaskModel task_model(swap, lo);
      std::optional<SignalScore> next_token;
      if (!signal->has_mc()) {
        const auto t = eval::score_tokens(swap, validation, o.chunk_tokens);
        next_token = accuracy_signal(t.accuracy, t.tokens);
      }
      score_halo_layer(scores, i, *signal, task_model, next_token ? &*next_token : nullptr);
      line += str_cat(" recall ", scores.recall[i], " +- ", scores.recall_std_error[i],
                      ", commonsense ", scores.commonsense[i]);
    }
    if (o.kl) {
      scores.kl[i] = mean_kl_against(swap, teacher_hidden, teacher->output_embedding(), validation,
                                     o.chunk_tokens);
      line += str_cat(" kl ", scores.kl[i]);
    }
    if (progress) progress(line);
  }
  if (o.halo) scores.importance = halo_importance(scores.recall, scores.commonsense);
}

}  // namespace halo::selection
