// Layer selection stage (HALO_NOTES 3): which layers stay softmax attention in the hybrid.
// Methods: uniform (evenly spaced), manual (the configured list), and the scored methods
// entropy / halo / kl (halo/selection/, from the eval branch). Output: selection.json
// ({"method", "attention_layers", "mixer_types", "scores"}) and report.md in the stage folder.
#pragma once

#include "halo/stages/stage_context.h"

#include <vector>

namespace halo::stages {

StageOutput run_selection_stage(const StageContext& ctx);

// k evenly spaced layers of L: floor((2j + 1) L / (2k)) for j < k.
std::vector<int64_t> uniform_attention_layers(int64_t num_layers, int64_t k);

}  // namespace halo::stages
