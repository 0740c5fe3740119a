// render_run_summary: done.json of every stage, the selection report, RUN/report.json.
#include "halo/stages/run_summary.h"

#include "common/atomic_file.h"
#include "halo/stages/quality_gate_step.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace halo::stages {

namespace fs = std::filesystem;
using config::StageKind;

namespace {

nlohmann::json read_json_or_empty(const fs::path& path) {
  std::ifstream in(path);
  if (!in.good()) return nlohmann::json::object();
  auto j = nlohmann::json::parse(in, nullptr, false);
  return j.is_discarded() ? nlohmann::json::object() : j;
}

std::string fmt(const nlohmann::json& j, const char* key, const char* format) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_number()) return "-";
  const double v = j[key].get<double>();
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// What the stage's train and validation losses measure.
std::string loss_meaning(const config::StageConfig& s) {
  switch (s.kind) {
    case StageKind::kPretrain:
    case StageKind::kStage3:
      return "next-token cross-entropy, nats/token";
    case StageKind::kStage1:
      return s.loss == config::Loss::kL2Norm ? "hidden-state alignment (l2norm), mean over layers"
                                             : "hidden-state alignment (MSE), mean over layers";
    case StageKind::kStage2:
      return "KL(teacher || student), nats/token";
    case StageKind::kSelection:
      break;
  }
  return "-";
}

std::string layer_list(const nlohmann::json& layers) {
  std::string out;
  for (const auto& l : layers) out += (out.empty() ? "" : ", ") + l.dump();
  return out.empty() ? "none" : out;
}

// "kept as attention: layers 2, 3 (halo)", and when the method's own scores did not separate
// the layers (the selection report's findings), how the tie was broken.
std::string selection_cell(const nlohmann::json& report) {
  if (!report.contains("attention_layers")) return "-";
  const std::string method = report.value("method", "?");
  std::string cell =
      "kept as attention: layers " + layer_list(report["attention_layers"]) + " (" + method + ")";
  int ties = 0;
  for (const auto& f : report.value("findings", nlohmann::json::array())) {
    if (f.is_object() && f.value("method", "") == method) ++ties;
  }
  if (ties > 0) {
    cell += "; its scores tie (" + std::to_string(ties) + " finding" + (ties > 1 ? "s" : "") +
            " in selection_report.txt), broken by " + report.value("tie_break", "layer order");
  }
  return cell;
}

void stage_table(const config::PipelineConfig& p, std::ostringstream& md) {
  md << "| stage | kind | steps | loss (what it measures) | last train loss | validation loss "
        "| tokens/s |\n"
     << "|---|---|---|---|---|---|---|\n";
  for (const auto& s : p.stages) {
    const fs::path dir = fs::path(p.run.out_dir) / s.name;
    const auto done = read_json_or_empty(dir / "done.json");
    md << "| " << s.name << " | " << config::stage_kind_name(s.kind) << " | ";
    if (s.kind == StageKind::kSelection) {
      const auto report = read_json_or_empty(dir / "selection_report.json");
      md << "- | " << selection_cell(report) << " | - | - | - |\n";
      continue;
    }
    md << fmt(done, "steps", "%.0f") << " | " << loss_meaning(s) << " | "
       << fmt(done, "last_loss", "%.4f") << " | " << fmt(done, "val_loss", "%.4f") << " | "
       << fmt(done, "tokens_per_s", "%.0f") << " |\n";
  }
}

// Below this next-token accuracy a teacher has learned little more than which tokens are frequent
// (issue 20: the CPU demo's teacher reaches 0.07-0.09 with 2048 pieces), so a student close to
// its loss says that the stages run, not that a conversion keeps what a teacher knows.
constexpr double kPredictingTeacherAccuracy = 0.25;

// The teacher's gate entry: its "teacher" entry, or the pipeline's pretrain stage's (as
// teacher_validation_loss); null when neither was gated.
nlohmann::json teacher_entry(const config::PipelineConfig& p, const nlohmann::json& entries) {
  const auto* pre = p.first_of_kind(StageKind::kPretrain);
  nlohmann::json of_pretrain;
  for (const auto& e : entries) {
    const std::string label = e.value("label", "");
    if (label == "teacher") return e;
    if (pre != nullptr && label == pre->name && of_pretrain.is_null()) of_pretrain = e;
  }
  return of_pretrain;
}

// What the quality numbers can and cannot show when the teacher barely predicts.
void weak_teacher_note(const config::PipelineConfig& p, const nlohmann::json& entries,
                       std::ostringstream& md) {
  const auto t = teacher_entry(p, entries);
  if (!t.is_object()) return;
  const double acc =
      t.value("validation", nlohmann::json::object()).value("accuracy", static_cast<double>(NAN));
  if (std::isnan(acc) || acc >= kPredictingTeacherAccuracy) return;
  char buf[640];
  std::snprintf(buf, sizeof(buf),
                "\nwhat these numbers can and cannot show: the teacher predicts the next token "
                "%.1f%% of the time (below %.0f%%: not far from a model that only knows which "
                "tokens are frequent). A student close to its loss shows that every stage runs "
                "and hands its weights on, not that a conversion keeps what a trained teacher "
                "knows; that needs a teacher that predicts (docs/experiments.md).\n",
                100.0 * acc, 100.0 * kPredictingTeacherAccuracy);
  md << buf;
}

void quality_table(const config::PipelineConfig& p, std::ostringstream& md) {
  const auto entries = quality_report_entries(p);
  if (entries.empty()) return;
  const auto& lengths = p.quality_gate.passkey_lengths;
  md << "\nQuality gate (every model on the same validation tokens and passkey prompts):\n\n"
     << "| model | validation cross-entropy (nats/token) | next-token accuracy |";
  for (auto len : lengths) md << " passkey@" << len << " |";
  md << "\n|---|---|---|";
  for (size_t i = 0; i < lengths.size(); ++i) md << "---|";
  md << "\n";
  double student_loss = NAN;
  bool any_passkey = false, all_passkey_zero = true;
  for (const auto& e : entries) {
    const auto v = e.value("validation", nlohmann::json::object());
    const std::string label = e.value("label", "?");
    md << "| " << label << " | " << fmt(v, "loss", "%.4f") << " | " << fmt(v, "accuracy", "%.3f")
       << " |";
    for (auto len : lengths) {
      std::string cell = "-";
      for (const auto& r : e.value("passkey", nlohmann::json::array())) {
        if (r.value("context_length", int64_t{-1}) != len) continue;
        cell = fmt(r, "accuracy", "%.2f");
        any_passkey = true;
        all_passkey_zero = all_passkey_zero && r.value("accuracy", 1.0) == 0.0;
      }
      md << " " << cell << " |";
    }
    md << "\n";
    if (is_student_stage(p, label)) student_loss = v.value("loss", NAN);
  }
  const auto teacher_loss = teacher_validation_loss(p, entries);
  if (teacher_loss && !std::isnan(student_loss)) {
    char buf[160];
    std::snprintf(buf, sizeof(buf),
                  "\nfinal student / teacher validation cross-entropy: %.4f / %.4f = %.3f "
                  "(%+.1f%%)\n",
                  student_loss, *teacher_loss, student_loss / *teacher_loss,
                  100.0 * (student_loss / *teacher_loss - 1.0));
    md << buf;
  }
  weak_teacher_note(p, entries, md);
  if (any_passkey && all_passkey_zero) {
    md << "\npasskey is 0 for every model, the teacher included: a model this small and this "
          "briefly trained (the demo's scale) does not retrieve; the columns matter for real "
          "checkpoints.\n";
  }
}

}  // namespace

std::string render_run_summary(const config::PipelineConfig& p) {
  std::ostringstream md;
  stage_table(p, md);
  quality_table(p, md);
  return md.str();
}

void write_run_summary(const config::PipelineConfig& p) {
  const std::string md = render_run_summary(p);
  write_text_atomically(fs::path(p.run.out_dir) / "summary.md", md);
  std::fprintf(stderr, "\n%s\n", md.c_str());
}

}  // namespace halo::stages
