// The quality gate after every training stage (issue 5): validation loss, perplexity and
// next-token accuracy on the run's fixed validation batches, and passkey retrieval at the
// configured lengths, appended to RUN/report.json (halo/eval/quality_gate.h) so a regression
// shows the moment it happens. The teacher is gated once too (label "teacher"), so student
// and teacher compare on the same tokens.
#pragma once

#include "halo/config/pipeline_config.h"

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace halo::stages {

// Runs the gate on the model folder `model_dir` (Qwen3 or HypeNet) under `label` and appends the
// entry to RUN/report.json; returns the entry.
nlohmann::json run_stage_quality_gate(const config::PipelineConfig& p,
                                      const std::filesystem::path& model_dir,
                                      const std::string& label, c10::Device device);

// True when RUN/report.json already holds an entry with this label.
bool report_has_entry(const config::PipelineConfig& p, const std::string& label);

}  // namespace halo::stages
