// Per-layer scores for layer selection, every one the report shows side by side:
//   entropy    the teacher's mean attention entropy (attention_entropy.h);
//   recall     R_i: mean recall of single-swap model i on the eval recall tasks (halo_signal.h);
//   commonsense C_i: its multiple-choice accuracy, or next-token accuracy on validation text;
//   importance HALO's importance from R and C (importance.h);
//   kl         mean per-token KL(teacher || single-swap model i) on validation text.
// A vector is empty when its score was not computed.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/task_model.h"
#include "halo/eval/token_batch.h"
#include "halo/selection/halo_signal.h"
#include "hypenet/causal_lm.h"
#include "hypenet/hypenet_model.h"
#include "hypenet/qwen3_model.h"

#include <functional>
#include <string>
#include <vector>

namespace halo::selection {

struct LayerScores {
  int64_t num_layers = 0;
  std::vector<double> entropy;                                  // [L]
  std::vector<std::vector<double>> entropy_per_head;            // [L][Hq]
  std::vector<double> recall, commonsense, importance;          // [L] each
  std::vector<double> recall_std_error, commonsense_std_error;  // [L] each (halo)
  std::vector<double> kl;                                       // [L]
};

struct SwapScoreOptions {
  bool halo = true;             // recall, commonsense, importance
  bool kl = true;               // kl
  int64_t chunk_tokens = 1024;  // rows of [rows, V] logits alive at once
  int64_t batch_size = 4;       // recall prompts decoded together
};

// Scores every layer's single-swap model (built one at a time, sharing weights). `signal` (R and
// C, halo_signal.h) is needed for `halo` only (may be null otherwise). `progress` gets a line per
// layer.
void score_single_swaps(LayerScores& scores, hypenet::Qwen3ForCausalLM& teacher,
                        hypenet::HypeNetForCausalLM& stage1,
                        const std::vector<eval::TokenBatch>& validation, const HaloSignal* signal,
                        const SwapScoreOptions& options,
                        const std::function<void(const std::string&)>& progress = {});

// R and C of layer `layer` (scores sized [L] first): R from `signal` on `model`; C from the
// signal's mc file when it has one, else `next_token` (the model's next-token accuracy), which
// must then be given.
void score_halo_layer(LayerScores& scores, int64_t layer, const HaloSignal& signal,
                      eval::TaskModel& model, const SignalScore* next_token);

// Mean per-token KL(teacher || model) over the batches' positions with label >= 0, from the
// chunked full-vocabulary KL. teacher_hidden: the teacher's final hidden states per batch.
double mean_kl_against(hypenet::CausalLM& model, const std::vector<at::Tensor>& teacher_hidden,
                       const at::Tensor& teacher_head,
                       const std::vector<eval::TokenBatch>& validation, int64_t chunk_tokens);

}  // namespace halo::selection
