// Reading a pipeline run folder (RUN = run.out_dir) for the report, without torch:
//   RUN/pipeline.json                 the resolved config as run (stage names and kinds in order)
//   RUN/STAGE/metrics.jsonl           per training step {"step", "loss", "lr", "grad_norm",
//                                     "tokens", "seq_len", "tokens_per_s", ...} and validation
//                                     {"step", "val_loss"} (halo/train/metrics_log.h)
//   RUN/STAGE/done.json               a finished stage's summary (steps, last_loss, val_loss, ...)
//   RUN/report.json                   quality gate entries {"entries": [{"label", "validation",
//                                     "passkey": [...], "kv": [...]}]} (halo/eval/quality_gate.h)
//   RUN/SELECTION/selection_report.json   per-layer scores and the chosen attention layers
//   RUN/eval/results.json             `halo-distill eval` results ("halo-eval/1", docs/eval.md)
// Everything but the metrics is optional. Errors are HaloError naming the file (and line).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace halo::report {

// The curves of one stage's metrics.jsonl; NaN where a training line lacks a field.
struct StageMetrics {
  std::vector<double> step, loss, lr, grad_norm, tokens_per_s, seq_len;  // training lines
  std::vector<double> val_step, val_loss;                                // validation lines
  bool empty() const { return step.empty() && val_step.empty(); }
};

struct StageRecord {
  std::string name, kind;    // kind "" when pipeline.json does not list the stage
  bool done = false;         // done.json present
  nlohmann::json done_json;  // its content (null when absent or unreadable)
  bool has_metrics = false;  // metrics.jsonl present
  StageMetrics metrics;
};

struct RunFolder {
  std::filesystem::path dir;
  nlohmann::json pipeline;          // pipeline.json (null when absent)
  std::vector<StageRecord> stages;  // pipeline order, else folder-name order
  nlohmann::json quality;           // report.json's "entries" array (null when absent)
  std::string selection_stage;      // the folder selection_report.json came from ("" if none)
  nlohmann::json selection;         // its content (null when absent)
  nlohmann::json eval;              // eval/results.json (null when absent)
};

// Parses a metrics.jsonl file. Errors name `path:LINE` for a line that is not a JSON object or
// has a non-numeric "step" or metric. Blank lines are skipped.
StageMetrics read_metrics_jsonl(const std::filesystem::path& path);

// Reads the run folder. Errors (HaloError): the folder is missing or not a folder; no stage
// folder holds a metrics.jsonl (not a run folder, or no training stage ran yet); a malformed
// metrics line; pipeline.json, report.json, selection_report.json or eval/results.json that is
// not valid JSON of the expected top-level shape.
RunFolder read_run_folder(const std::filesystem::path& dir);

}  // namespace halo::report
