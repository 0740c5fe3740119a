// Layer selection, the step between stage 1 and stage 2 (HALO_NOTES 3 step 2): which layers stay
// softmax attention in the hybrid. Methods:
//   entropy  keep the layers whose teacher attention is sharpest (lowest mean entropy);
//   halo     keep the layers with the highest HALO importance (recall lost per commonsense
//            lost when the layer alone is the stage-1 RNN; R and C from halo_signal.h);
//   kl       keep the layers whose single-swap model is furthest from the teacher (KL);
//   uniform  evenly spaced layers;  manual  a given list.
// Every score that can be computed is computed for the report, whatever the method (so the
// report shows entropy, halo and kl side by side); `report_all_scores = false` computes only
// what the method needs. The result carries every method's ranking and the ties and degenerate
// scores found (layer_ranking.h), which the report and the stage's stderr show.
#pragma once

#include "halo/selection/halo_signal.h"
#include "halo/selection/layer_ranking.h"
#include "halo/selection/layer_scores.h"
#include "hypenet/hypenet_config.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

namespace halo::selection {

enum class SelectionMethod { kEntropy, kHalo, kKl, kUniform, kManual };
// "entropy" | "halo" | "kl" | "uniform" | "manual"; `where` names the config key in errors.
SelectionMethod parse_selection_method(const std::string& name, const std::string& where);
std::string selection_method_name(SelectionMethod method);

struct SelectionOptions {
  SelectionMethod method = SelectionMethod::kHalo;
  int64_t num_attention_layers = 0;    // layers kept as attention (entropy, halo, kl, uniform)
  std::vector<int64_t> manual_layers;  // the attention layers (manual)
  bool report_all_scores = true;       // compute entropy, halo and kl whatever the method
  SwapScoreOptions swap;               // chunking, batch size (its halo/kl flags are set here)
  HaloSignalOptions signal;            // R and C of the halo score
  // Receives progress lines (the signals being measured, each layer's scores).
  std::function<void(const std::string&)> progress;
};

// What selection sees. stage1 (all lightning-attn) is needed for halo and kl, tokenizer and
// filler for halo; missing ones leave those scores out when report_all_scores is on, and are
// an error when the method needs them.
struct SelectionInputs {
  hypenet::Qwen3ForCausalLM teacher{nullptr};
  hypenet::HypeNetForCausalLM stage1{nullptr};
  std::vector<eval::TokenBatch> validation;
  const data::Tokenizer* tokenizer = nullptr;
  std::vector<int64_t> filler;  // validation-text token ids for the recall prompts
};

struct SelectionResult {
  SelectionMethod method = SelectionMethod::kHalo;
  LayerScores scores;
  std::vector<hypenet::MixerType> mixer_types;    // the choice, per layer
  std::vector<MethodRanking> rankings;            // entropy, halo, kl (those scored), uniform
  std::vector<ScoreFinding> findings;             // ties and degenerate scores of every method
  std::string recall_signal, commonsense_signal;  // what R and C were measured on (halo)
  double recall_worst_std_error = 0;              // the largest SE R can have with its trials
};

// The findings about the chosen method's own score (none for uniform and manual).
std::vector<ScoreFinding> findings_of_method(const SelectionResult& result);

SelectionResult select_layers(SelectionInputs& inputs, const SelectionOptions& options);

}  // namespace halo::selection
