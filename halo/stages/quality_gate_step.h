// The quality gate after every training stage (issue 5): validation loss, perplexity and
// next-token accuracy on the run's fixed validation batches, and passkey retrieval at the
// configured lengths, appended to RUN/report.json (halo/eval/quality_gate.h) so a regression
// shows the moment it happens. The teacher is gated once too (label "teacher"), so student
// and teacher compare on the same tokens. The gate prints its entry as a table; with
// quality_gate.thresholds set, the gated stage's entry must reach them or the pipeline stops
// (enforce_quality_thresholds); without, the table says "not gated".
#pragma once

#include "halo/config/pipeline_config.h"

#include <c10/core/Device.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace halo::stages {

// Runs the gate on the model folder `model_dir` (Qwen3 or HypeNet) under `label`, appends the
// entry to RUN/report.json and prints it as a table (with the thresholds of the gated stage and
// whether each was met); returns the entry.
nlohmann::json run_stage_quality_gate(const config::PipelineConfig& p,
                                      const std::filesystem::path& model_dir,
                                      const std::string& label, c10::Device device);

// When `label` is the stage quality_gate.thresholds gate: throws (exit 1) naming every threshold
// its entry in RUN/report.json missed, with the values; the pipeline stops there. The entry is
// read from the report, so a run again after a miss checks again without evaluating again (and a
// changed threshold, which is not part of the stage hashes, is checked against the same entry).
void enforce_quality_thresholds(const config::PipelineConfig& p, const std::string& label);

// The entries of RUN/report.json, oldest first (empty when there is none).
nlohmann::json quality_report_entries(const config::PipelineConfig& p);
// The teacher's validation loss in `entries`: its "teacher" entry, or the pipeline's pretrain
// stage's; nullopt when neither was gated.
std::optional<double> teacher_validation_loss(const config::PipelineConfig& p,
                                              const nlohmann::json& entries);
// Whether `label` names a student stage (stage 1, 2 or 3) of the pipeline.
bool is_student_stage(const config::PipelineConfig& p, const std::string& label);

// True when RUN/report.json already holds an entry with this label.
bool report_has_entry(const config::PipelineConfig& p, const std::string& label);

}  // namespace halo::stages
