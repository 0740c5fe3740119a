// Layer selection stage (HALO_NOTES 3): which layers stay softmax attention in the hybrid.
// Methods entropy / halo / kl / uniform / manual (halo/selection/layer_selection.h); every
// score that can be computed is computed, whatever the method. Output: selection.json (the
// report JSON: method, attention_layers, mixer_types, per-layer scores) and
// selection_report.txt / selection_report.json in the stage folder.
#pragma once

#include "halo/stages/stage_context.h"

#include <vector>

namespace halo::stages {

StageOutput run_selection_stage(const StageContext& ctx);

}  // namespace halo::stages
