// Implementation of layer_selection.h.
#include "halo/selection/layer_selection.h"

#include "common/error.h"
#include "halo/selection/attention_entropy.h"
#include "halo/selection/choose_mixers.h"

#include <cstdio>
#include <memory>

namespace halo::selection {

SelectionMethod parse_selection_method(const std::string& name, const std::string& where) {
  if (name == "entropy") return SelectionMethod::kEntropy;
  if (name == "halo") return SelectionMethod::kHalo;
  if (name == "kl") return SelectionMethod::kKl;
  if (name == "uniform") return SelectionMethod::kUniform;
  if (name == "manual") return SelectionMethod::kManual;
  HALO_FAIL(where, ": unknown layer selection method \"", name,
            "\"; expected one of entropy, halo, kl, uniform, manual");
}

std::string selection_method_name(SelectionMethod m) {
  switch (m) {
    case SelectionMethod::kEntropy:
      return "entropy";
    case SelectionMethod::kHalo:
      return "halo";
    case SelectionMethod::kKl:
      return "kl";
    case SelectionMethod::kUniform:
      return "uniform";
    case SelectionMethod::kManual:
      return "manual";
  }
  return "?";
}

SelectionResult select_layers(SelectionInputs& in, const SelectionOptions& o) {
  HALO_CHECK(in.teacher, "layer selection: the teacher is missing");
  const int64_t L = in.teacher->config().num_hidden_layers;
  const auto m = o.method;
  const bool all = o.report_all_scores;
  const bool have_val = !in.validation.empty();
  const bool can_swap = have_val && static_cast<bool>(in.stage1);
  const bool can_halo =
      can_swap && in.tokenizer && !in.filler.empty() && !o.signal.recall_lengths.empty();
  HALO_CHECK(m != SelectionMethod::kEntropy || have_val,
             "entropy layer selection needs validation batches");
  HALO_CHECK(m != SelectionMethod::kKl || can_swap,
             "kl layer selection needs validation batches and the stage-1 student");
  HALO_CHECK(m != SelectionMethod::kHalo || can_halo,
             "halo layer selection needs validation batches, the stage-1 student, the tokenizer, "
             "filler text and at least one recall length");
  SelectionResult r;
  r.method = m;
  r.scores.num_layers = L;
  auto swap = o.swap;
  swap.halo = m == SelectionMethod::kHalo || (all && can_halo);
  swap.kl = m == SelectionMethod::kKl || (all && can_swap);
  std::unique_ptr<HaloSignal> signal;
  if (swap.halo) {  // checks every recall prompt and reads the mc file before any model runs
    signal = std::make_unique<HaloSignal>(o.signal, *in.tokenizer, in.filler);
    r.recall_signal = signal->recall_description();
    r.commonsense_signal = signal->commonsense_description();
    r.recall_worst_std_error = signal->worst_recall_std_error();
    if (o.progress) {
      char se[32];
      std::snprintf(se, sizeof(se), "%.3f", r.recall_worst_std_error);
      o.progress("layer selection: recall R from " + r.recall_signal + " (standard error at most " +
                 se + "); commonsense C from " + r.commonsense_signal);
    }
  }
  if (m == SelectionMethod::kEntropy || (all && have_val)) {
    auto e = teacher_attention_entropy(in.teacher, in.validation);
    r.scores.entropy = e.per_layer;
    r.scores.entropy_per_head = e.per_head;
  }
  if (swap.halo || swap.kl) {
    score_single_swaps(r.scores, in.teacher, in.stage1, in.validation, signal.get(), swap,
                       o.progress);
  }
  switch (m) {
    case SelectionMethod::kEntropy: {
      std::vector<double> sharpness;
      for (double e : r.scores.entropy) sharpness.push_back(-e);
      r.mixer_types = choose_mixers(sharpness, o.num_attention_layers);
      break;
    }
    case SelectionMethod::kHalo:
      r.mixer_types = choose_mixers(r.scores.importance, o.num_attention_layers);
      break;
    case SelectionMethod::kKl:
      r.mixer_types = choose_mixers(r.scores.kl, o.num_attention_layers);
      break;
    case SelectionMethod::kUniform:
      r.mixer_types = mixers_from_layers(L, uniform_attention_layers(L, o.num_attention_layers),
                                         "uniform layer selection");
      break;
    case SelectionMethod::kManual:
      r.mixer_types = mixers_from_layers(L, o.manual_layers, "manual layer selection");
      break;
  }
  const auto k = static_cast<int64_t>(attention_layers_of(r.mixer_types).size());
  r.rankings = method_rankings(r.scores, k);
  r.findings = score_findings(r.scores, k);
  return r;
}

std::vector<ScoreFinding> findings_of_method(const SelectionResult& r) {
  std::vector<ScoreFinding> out;
  const auto name = selection_method_name(r.method);
  for (const auto& f : r.findings) {
    if (f.method == name) out.push_back(f);
  }
  return out;
}

}  // namespace halo::selection
