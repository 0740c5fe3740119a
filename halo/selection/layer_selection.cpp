// Implementation of layer_selection.h.
#include "halo/selection/layer_selection.h"

#include "halo/common/error.h"
#include "halo/selection/attention_entropy.h"
#include "halo/selection/choose_mixers.h"

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
      can_swap && in.tokenizer && !in.filler.empty() && !o.swap.retrieval_lengths.empty();
  HALO_CHECK(m != SelectionMethod::kEntropy || have_val,
             "entropy layer selection needs validation batches");
  HALO_CHECK(m != SelectionMethod::kKl || can_swap,
             "kl layer selection needs validation batches and the stage-1 student");
  HALO_CHECK(m != SelectionMethod::kHalo || can_halo,
             "halo layer selection needs validation batches, the stage-1 student, the tokenizer, "
             "filler text and at least one retrieval context length");
  SelectionResult r;
  r.method = m;
  r.scores.num_layers = L;
  if (m == SelectionMethod::kEntropy || (all && have_val)) {
    auto e = teacher_attention_entropy(in.teacher, in.validation);
    r.scores.entropy = e.per_layer;
    r.scores.entropy_per_head = e.per_head;
  }
  auto swap = o.swap;
  swap.halo = m == SelectionMethod::kHalo || (all && can_halo);
  swap.kl = m == SelectionMethod::kKl || (all && can_swap);
  if (swap.halo || swap.kl) {
    score_single_swaps(r.scores, in.teacher, in.stage1, in.validation, in.tokenizer, in.filler,
                       swap);
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
  return r;
}

}  // namespace halo::selection
