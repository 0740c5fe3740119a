// run_stage_quality_gate: load the model, run the eval branch's gate, append the entry.
#include "halo/stages/quality_gate_step.h"

#include "common/error.h"
#include "halo/eval/quality_gate.h"
#include "halo/stages/eval_inputs.h"
#include "hypenet/causal_lm.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <optional>
#include <vector>

namespace halo::stages {

namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

nlohmann::json quality_report_entries(const config::PipelineConfig& p) {
  std::ifstream in(fs::path(p.run.out_dir) / "report.json");
  if (!in.good()) return nlohmann::json::array();
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("entries") || !j["entries"].is_array())
    return nlohmann::json::array();
  return j["entries"];
}

namespace {

// The newest entry of `label`, or null.
nlohmann::json entry_of(const nlohmann::json& entries, const std::string& label) {
  nlohmann::json found;
  for (const auto& e : entries) {
    if (e.value("label", "") == label) found = e;
  }
  return found;
}

}  // namespace

std::optional<double> teacher_validation_loss(const config::PipelineConfig& p,
                                              const nlohmann::json& entries) {
  auto e = entry_of(entries, "teacher");
  const auto* pre = p.first_of_kind(config::StageKind::kPretrain);
  if (e.is_null() && pre != nullptr) e = entry_of(entries, pre->name);
  if (e.is_null() || !e.contains("validation")) return std::nullopt;
  const double loss = e["validation"].value("loss", kNaN);
  if (std::isnan(loss)) return std::nullopt;
  return loss;
}

bool is_student_stage(const config::PipelineConfig& p, const std::string& label) {
  const int i = p.stage_index(label);
  if (i < 0) return false;
  const auto kind = p.stages[static_cast<size_t>(i)].kind;
  return kind == config::StageKind::kStage1 || kind == config::StageKind::kStage2 ||
         kind == config::StageKind::kStage3;
}

namespace {

double retrieval_accuracy(const nlohmann::json& entry, const char* task, int64_t length) {
  for (const auto& r : entry.value(task, nlohmann::json::array())) {
    if (r.value("context_length", int64_t{-1}) == length) return r.value("accuracy", kNaN);
  }
  return NAN;
}

// One threshold of quality_gate.thresholds against an entry.
struct ThresholdCheck {
  std::string metric;  // as the table names it
  std::string key;     // the YAML key path of the threshold
  double value = NAN, limit = NAN;
  bool at_most = false;  // value <= limit (else value >= limit)
  bool met() const { return at_most ? value <= limit : value >= limit; }  // false for NaN
  std::string threshold_text() const {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%s %g", at_most ? "<=" : ">=", limit);
    return buf;
  }
};

std::vector<ThresholdCheck> threshold_checks(const config::PipelineConfig& p,
                                             const nlohmann::json& entry,
                                             std::optional<double> teacher) {
  const auto& t = p.quality_gate.thresholds;
  std::vector<ThresholdCheck> checks;
  if (t.max_loss_ratio) {
    const double loss = entry.value("validation", nlohmann::json::object()).value("loss", kNaN);
    checks.push_back({"validation loss / teacher's", "quality_gate.thresholds.max_loss_ratio",
                      teacher ? loss / *teacher : NAN, *t.max_loss_ratio, true});
  }
  for (size_t i = 0; i < t.min_passkey_accuracy.size(); ++i) {
    const auto& k = t.min_passkey_accuracy[i];
    checks.push_back(
        {"passkey@" + std::to_string(k.length),
         "quality_gate.thresholds.min_passkey_accuracy[" + std::to_string(i) + "].accuracy",
         retrieval_accuracy(entry, "passkey", k.length), k.accuracy, false});
  }
  return checks;
}

std::string number(double v, const char* format) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// The entry as a table: metric, value, and for the gated stage the threshold and its result.
std::string gate_table(const config::PipelineConfig& p, const nlohmann::json& entry,
                       const std::string& label) {
  const auto entries = quality_report_entries(p);
  const auto teacher = teacher_validation_loss(p, entries);
  const auto& t = p.quality_gate.thresholds;
  const bool gated = t.any() && label == t.stage;
  std::vector<ThresholdCheck> checks;
  if (gated) checks = threshold_checks(p, entry, teacher);
  struct Row {
    std::string metric, value, threshold, result;
  };
  std::vector<Row> rows;
  auto add = [&](const std::string& metric, double v, const char* format) {
    Row row{metric, number(v, format), "", ""};
    for (const auto& c : checks) {
      if (c.metric == metric) {
        row.threshold = c.threshold_text();
        row.result = c.met() ? "met" : "MISSED";
      }
    }
    rows.push_back(row);
  };
  const auto v = entry.value("validation", nlohmann::json::object());
  const double loss = v.value("loss", kNaN);
  add("validation loss", loss, "%.4f");
  if (is_student_stage(p, label) && (teacher || gated))
    add("validation loss / teacher's", teacher ? loss / *teacher : NAN, "%.3f");
  add("perplexity", v.value("perplexity", kNaN), "%.2f");
  add("next-token accuracy", v.value("accuracy", kNaN), "%.3f");
  for (const char* task : {"passkey", "key_value"}) {
    for (const auto& r : entry.value(task, nlohmann::json::array())) {
      const auto len = r.value("context_length", int64_t{0});
      add(std::string(task) + "@" + std::to_string(len), r.value("accuracy", kNaN), "%.2f");
    }
  }
  std::vector<size_t> width = {6, 5, 9, 6};  // the header's
  for (const auto& r : rows) {
    width[0] = std::max(width[0], r.metric.size());
    width[1] = std::max(width[1], r.value.size());
    width[2] = std::max(width[2], r.threshold.size());
  }
  std::string out;
  auto line = [&](const std::string& a, const std::string& b, const std::string& c,
                  const std::string& d) {
    char buf[256];
    std::snprintf(buf, sizeof(buf), "  %-*s  %*s  %-*s  %s", static_cast<int>(width[0]), a.c_str(),
                  static_cast<int>(width[1]), b.c_str(), static_cast<int>(width[2]), c.c_str(),
                  d.c_str());
    std::string s = buf;
    while (!s.empty() && s.back() == ' ') s.pop_back();
    out += s + "\n";
  };
  line("metric", "value", gated ? "threshold" : "", gated ? "result" : "");
  for (const auto& r : rows) line(r.metric, r.value, r.threshold, r.result);
  if (!t.any()) {
    out += "  not gated (no quality_gate.thresholds set)\n";
  } else if (!gated) {
    out += "  not gated here (quality_gate.thresholds gate stage \"" + t.stage + "\")\n";
  } else {
    size_t missed = 0;
    for (const auto& c : checks) missed += c.met() ? 0 : 1;
    out += missed == 0 ? "  gate: every threshold met\n"
                       : "  gate: " + std::to_string(missed) + " of " +
                             std::to_string(checks.size()) + " thresholds MISSED\n";
  }
  return out;
}

}  // namespace

bool report_has_entry(const config::PipelineConfig& p, const std::string& label) {
  std::ifstream in(fs::path(p.run.out_dir) / "report.json");
  if (!in.good()) return false;
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("entries")) return false;
  for (const auto& e : j["entries"]) {
    if (e.value("label", "") == label) return true;
  }
  return false;
}

nlohmann::json run_stage_quality_gate(const config::PipelineConfig& p, const fs::path& model_dir,
                                      const std::string& label, c10::Device device) {
  const auto& q = p.quality_gate;
  auto inputs = load_eval_inputs(p, q.seq_len, q.batch_size, q.validation_batches);
  auto model = hypenet::load_causal_lm(model_dir.string(), at::kFloat, device);
  eval::QualityGateOptions o;
  o.retrieval_lengths = q.passkey_lengths;
  o.retrieval_samples = q.passkey_trials;
  o.seed = p.run.seed;
  o.key_value = q.key_value;
  o.use_cache = q.decode == "cached";
  o.prefill_chunk = q.prefill_chunk;
  const auto start = std::chrono::steady_clock::now();
  auto entry =
      eval::run_quality_gate(model, label, inputs.validation, *inputs.tokenizer, inputs.filler, o);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  eval::append_quality_report(fs::path(p.run.out_dir) / "report.json", entry);
  std::fprintf(stderr, "[%s] quality gate (%.2f s, %s decode; RUN/report.json)\n%s", label.c_str(),
               seconds, q.decode.c_str(), gate_table(p, entry, label).c_str());
  return entry;
}

void enforce_quality_thresholds(const config::PipelineConfig& p, const std::string& label) {
  const auto& t = p.quality_gate.thresholds;
  if (!t.any() || label != t.stage) return;
  const fs::path report = fs::path(p.run.out_dir) / "report.json";
  const auto entries = quality_report_entries(p);
  const auto entry = entry_of(entries, label);
  HALO_CHECK(!entry.is_null(), report.string(), ": no quality gate entry of stage \"", label,
             "\", which quality_gate.thresholds gate. HINT: run again; a finished stage without "
             "its entry is evaluated again");
  const auto teacher = teacher_validation_loss(p, entries);
  HALO_CHECK(!t.max_loss_ratio || teacher, report.string(),
             ": no teacher entry, which quality_gate.thresholds.max_loss_ratio compares with. "
             "HINT: the teacher is evaluated when stage 1 starts (or as the pretrain stage); "
             "remove max_loss_ratio to gate without it");
  std::string missed;
  for (const auto& c : threshold_checks(p, entry, teacher)) {
    if (c.met()) continue;
    missed += str_cat("\n  ", c.metric, " = ", number(c.value, "%.4g"), ", but ", c.key,
                      " requires ", c.threshold_text());
  }
  if (missed.empty()) return;
  HALO_FAIL("quality gate of stage \"", label, "\" missed its thresholds; the pipeline stops here",
            missed, "\nThe entry is in ", report.string(),
            ". HINT: train longer or change the thresholds; a run again checks the same entry "
            "(thresholds are not part of the stage hashes)");
}

}  // namespace halo::stages
