// The layer selection report: an aligned text table (one row per layer: entropy, recall,
// commonsense, importance, kl, the choice) and the same as JSON (plus per-head entropy,
// the method and the chosen mixer_types), written side by side into a run's folder.
#pragma once

#include "halo/selection/layer_selection.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace halo::selection {

// Columns whose score was not computed show "-".
std::string format_selection_table(const SelectionResult& result);

// {"method", "num_layers", "attention_layers": [...], "mixer_types": ["attn", ...],
//  "layers": [{"layer", "entropy", "entropy_per_head", "recall", "commonsense", "importance",
//  "kl", "mixer"}, ...]}; missing scores are null.
nlohmann::json selection_report_json(const SelectionResult& result);

// Writes DIR/selection_report.txt and DIR/selection_report.json (DIR is created).
void write_selection_report(const std::filesystem::path& dir, const SelectionResult& result);

}  // namespace halo::selection
