// Implementation of run_folder.h: the run folder's JSON files, read strictly where the report
// depends on them (metrics) and by shape where it only displays them.
#include "halo/report/run_folder.h"

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/error.h"

namespace halo::report {

namespace fs = std::filesystem;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// A whole JSON file; HaloError naming it when it is unreadable or not JSON.
nlohmann::json read_json_file(const fs::path& path) {
  std::ifstream in(path);
  HALO_CHECK(in.good(), path.string(), ": cannot open");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    HALO_FAIL(path.string(), ": not valid JSON (", e.what(), ")");
  }
}

// `key` of a metrics line as a number: NaN when absent or null, an error when not a number.
double metric(const nlohmann::json& line, const char* key, const fs::path& path, size_t lineno) {
  auto it = line.find(key);
  if (it == line.end() || it->is_null()) return kNaN;
  HALO_CHECK(it->is_number(), path.string(), ":", lineno, ": \"", key, "\" is ", it->dump(),
             "; expected a number");
  return it->get<double>();
}

}  // namespace

StageMetrics read_metrics_jsonl(const fs::path& path) {
  std::ifstream in(path);
  HALO_CHECK(in.good(), path.string(), ": cannot open");
  StageMetrics m;
  std::string text;
  for (size_t lineno = 1; std::getline(in, text); ++lineno) {
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto line = nlohmann::json::parse(text, nullptr, false);
    HALO_CHECK(!line.is_discarded() && line.is_object(), path.string(), ":", lineno,
               ": not a JSON object (", text.substr(0, 80), text.size() > 80 ? "..." : "",
               "). HINT: a line cut short by a crash can be deleted; the trainer rewrites the "
               "file from the resumed step");
    auto step = line.find("step");
    HALO_CHECK(step != line.end() && step->is_number(), path.string(), ":", lineno,
               ": no numeric \"step\"");
    if (line.contains("val_loss") && !line.contains("loss")) {
      m.val_step.push_back(step->get<double>());
      m.val_loss.push_back(metric(line, "val_loss", path, lineno));
      continue;
    }
    m.step.push_back(step->get<double>());
    m.loss.push_back(metric(line, "loss", path, lineno));
    m.lr.push_back(metric(line, "lr", path, lineno));
    m.grad_norm.push_back(metric(line, "grad_norm", path, lineno));
    m.tokens_per_s.push_back(metric(line, "tokens_per_s", path, lineno));
    m.seq_len.push_back(metric(line, "seq_len", path, lineno));
  }
  return m;
}

RunFolder read_run_folder(const fs::path& dir) {
  HALO_CHECK(fs::exists(dir), dir.string(),
             ": no such run folder. HINT: give the run.out_dir of a `halo-distill run`");
  HALO_CHECK(fs::is_directory(dir), dir.string(),
             ": not a folder. HINT: give the run.out_dir "
             "of a `halo-distill run`, not a file in it");
  RunFolder run;
  run.dir = dir;
  if (fs::exists(dir / "pipeline.json")) {
    run.pipeline = read_json_file(dir / "pipeline.json");
    HALO_CHECK(run.pipeline.is_object(), (dir / "pipeline.json").string(),
               ": expected a JSON object (the resolved pipeline config)");
  }
  // Stages in pipeline order; folders the config does not name (or all of them, without
  // pipeline.json) follow in name order.
  std::vector<std::string> names;
  if (run.pipeline.is_object() && run.pipeline.contains("stages") &&
      run.pipeline["stages"].is_array()) {
    for (const auto& s : run.pipeline["stages"]) {
      if (!s.is_object() || !s.contains("name") || !s["name"].is_string()) continue;
      StageRecord r;
      r.name = s["name"].get<std::string>();
      r.kind = s.value("kind", "");
      run.stages.push_back(r);
      names.push_back(r.name);
    }
  }
  std::vector<std::string> extra;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || std::find(names.begin(), names.end(), name) != names.end()) continue;
    if (fs::exists(e.path() / "metrics.jsonl") || fs::exists(e.path() / "done.json")) {
      extra.push_back(name);
    }
  }
  std::sort(extra.begin(), extra.end());
  for (const auto& name : extra) {
    StageRecord r;
    r.name = name;
    run.stages.push_back(r);
  }

  bool any_metrics = false;
  for (auto& s : run.stages) {
    const fs::path sdir = dir / s.name;
    if (fs::exists(sdir / "done.json")) {
      s.done = true;
      const auto j = nlohmann::json::parse(std::ifstream(sdir / "done.json"), nullptr, false);
      if (!j.is_discarded()) s.done_json = j;
      if (s.kind.empty() && s.done_json.is_object()) s.kind = s.done_json.value("kind", "");
    }
    if (fs::exists(sdir / "metrics.jsonl")) {
      s.has_metrics = true;
      s.metrics = read_metrics_jsonl(sdir / "metrics.jsonl");
      any_metrics = any_metrics || !s.metrics.empty();
    }
    if (fs::exists(sdir / "selection_report.json") && run.selection.is_null()) {
      run.selection = read_json_file(sdir / "selection_report.json");
      HALO_CHECK(run.selection.is_object(), (sdir / "selection_report.json").string(),
                 ": expected a JSON object (the layer selection report)");
      run.selection_stage = s.name;
    }
  }
  HALO_CHECK(any_metrics, dir.string(),
             ": no stage folder holds training metrics (STAGE/metrics.jsonl with at least one "
             "line). HINT: give the run.out_dir of a `halo-distill run` that has trained at "
             "least one step");

  if (fs::exists(dir / "report.json")) {
    const auto j = read_json_file(dir / "report.json");
    HALO_CHECK(j.is_object() && j.contains("entries") && j["entries"].is_array(),
               (dir / "report.json").string(),
               ": expected an object with an \"entries\" array (the quality gate report)");
    run.quality = j["entries"];
  }
  if (fs::exists(dir / "eval" / "results.json")) {
    run.eval = read_json_file(dir / "eval" / "results.json");
    HALO_CHECK(run.eval.is_object(), (dir / "eval" / "results.json").string(),
               ": expected a JSON object (halo-distill eval's results)");
  }
  return run;
}

}  // namespace halo::report
