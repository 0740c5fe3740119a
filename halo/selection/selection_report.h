// The layer selection report, written side by side into a run's folder as text and JSON:
//   - one row per layer: entropy, recall and its standard error, commonsense and its standard
//     error, importance, kl, the choice;
//   - what R and C were measured on (halo_signal.h) and R's largest possible standard error;
//   - every method's ranking side by side (entropy, halo, kl, uniform: each layer's place in the
//     method's order, the k layers each would keep marked);
//   - the ties and degenerate scores found (layer_ranking.h), the chosen method's first, and how
//     ties were broken, or a line saying there were none.
#pragma once

#include "halo/selection/layer_selection.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace halo::selection {

// Columns whose score was not computed show "-".
std::string format_selection_table(const SelectionResult& result);

// {"method", "num_layers", "attention_layers": [...], "mixer_types": ["attn", ...],
//  "layers": [{"layer", "entropy", "entropy_per_head", "recall", "recall_std_error",
//  "commonsense", "commonsense_std_error", "importance", "kl", "mixer"}, ...],
//  "rankings": {method: {"score", "order", "kept"}}, "findings": [{"method", "kind", "layers",
//  "message"}], "tie_break", and for halo "recall_signal", "commonsense_signal",
//  "recall_worst_std_error"}; missing scores are null.
nlohmann::json selection_report_json(const SelectionResult& result);

// Writes DIR/selection_report.txt and DIR/selection_report.json (DIR is created).
void write_selection_report(const std::filesystem::path& dir, const SelectionResult& result);

}  // namespace halo::selection
