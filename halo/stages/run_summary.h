// RUN/summary.md, the table a finished `run` prints once: one row per stage with the loss it
// trains and what that loss measures (cross-entropy, stage-1 alignment error, stage-2 KL: three
// different quantities, so each row says which), the layers the selection kept, and the quality
// gate's entries (teacher and students on the same validation tokens and passkey prompts).
#pragma once

#include "halo/config/pipeline_config.h"

#include <string>

namespace halo::stages {

// The summary of the run folder of `p` as Markdown (stages not run yet show "-").
std::string render_run_summary(const config::PipelineConfig& p);

// Writes RUN/summary.md durably and prints it to stderr.
void write_run_summary(const config::PipelineConfig& p);

}  // namespace halo::stages
