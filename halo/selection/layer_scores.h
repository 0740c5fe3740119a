// Per-layer scores for layer selection, every one the report shows side by side:
//   entropy    the teacher's mean attention entropy (attention_entropy.h);
//   recall     R_i: mean passkey + key-value retrieval accuracy of single-swap model i;
//   commonsense C_i: next-token accuracy of single-swap model i on validation text;
//   importance HALO's importance from R and C (importance.h);
//   kl         mean per-token KL(teacher || single-swap model i) on validation text.
// A vector is empty when its score was not computed.
#pragma once

#include "data/tokenizer.h"
#include "halo/eval/token_batch.h"
#include "hypenet/causal_lm.h"
#include "hypenet/hypenet_model.h"
#include "hypenet/qwen3_model.h"

#include <vector>

namespace halo::selection {

struct LayerScores {
  int64_t num_layers = 0;
  std::vector<double> entropy;                          // [L]
  std::vector<std::vector<double>> entropy_per_head;    // [L][Hq]
  std::vector<double> recall, commonsense, importance;  // [L] each
  std::vector<double> kl;                               // [L]
};

struct SwapScoreOptions {
  bool halo = true;                        // recall, commonsense, importance
  bool kl = true;                          // kl
  std::vector<int64_t> retrieval_lengths;  // context lengths of the recall prompts (halo)
  int64_t retrieval_samples = 8;           // prompts per length and task
  uint64_t seed = 0;                       // fixes the recall prompts
  int64_t chunk_tokens = 1024;             // rows of [rows, V] logits alive at once
  int64_t batch_size = 4;                  // recall prompts decoded together
};

// Scores every layer's single-swap model (built one at a time, sharing weights). tokenizer and
// filler are needed for `halo` only (tokenizer may be null otherwise).
void score_single_swaps(LayerScores& scores, hypenet::Qwen3ForCausalLM& teacher,
                        hypenet::HypeNetForCausalLM& stage1,
                        const std::vector<eval::TokenBatch>& validation,
                        const data::Tokenizer* tokenizer, const std::vector<int64_t>& filler,
                        const SwapScoreOptions& options);

// Mean per-token KL(teacher || model) over the batches' positions with label >= 0, from the
// chunked full-vocabulary KL. teacher_hidden: the teacher's final hidden states per batch.
double mean_kl_against(hypenet::CausalLM& model, const std::vector<at::Tensor>& teacher_hidden,
                       const at::Tensor& teacher_head,
                       const std::vector<eval::TokenBatch>& validation, int64_t chunk_tokens);

}  // namespace halo::selection
