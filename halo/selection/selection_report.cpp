// Implementation of selection_report.h.
#include "halo/selection/selection_report.h"

#include "common/error.h"
#include "halo/selection/choose_mixers.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace halo::selection {

namespace {

std::string cell(const std::vector<double>& v, size_t i, const char* fmt) {
  if (i >= v.size()) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), fmt, v[i]);
  return buf;
}

nlohmann::json value_or_null(const std::vector<double>& v, size_t i) {
  return i < v.size() ? nlohmann::json(v[i]) : nlohmann::json(nullptr);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path);
  HALO_CHECK(out.good(), path.string(), ": cannot write the selection report");
  out << text;
  HALO_CHECK(out.good(), path.string(), ": writing the selection report failed");
}

}  // namespace

std::string format_selection_table(const SelectionResult& r) {
  const auto& s = r.scores;
  std::ostringstream os;
  const auto kept = attention_layers_of(r.mixer_types);
  os << "layer selection: method " << selection_method_name(r.method) << ", " << kept.size()
     << " of " << s.num_layers << " layers kept as attention\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%5s  %10s  %8s  %9s  %11s  %8s  %10s  %10s  %s\n", "layer",
                "entropy", "recall", "recall_se", "commonsense", "c_se", "importance", "kl",
                "mixer");
  os << line;
  for (size_t i = 0; i < static_cast<size_t>(s.num_layers); ++i) {
    const bool attn =
        i < r.mixer_types.size() && r.mixer_types[i] == hypenet::MixerType::kAttention;
    std::snprintf(
        line, sizeof(line), "%5zu  %10s  %8s  %9s  %11s  %8s  %10s  %10s  %s\n", i,
        cell(s.entropy, i, "%.4f").c_str(), cell(s.recall, i, "%.3f").c_str(),
        cell(s.recall_std_error, i, "%.3f").c_str(), cell(s.commonsense, i, "%.4f").c_str(),
        cell(s.commonsense_std_error, i, "%.4f").c_str(), cell(s.importance, i, "%.4g").c_str(),
        cell(s.kl, i, "%.4g").c_str(), attn ? "attn" : "lightning-attn");
    os << line;
  }
  if (!r.recall_signal.empty()) {
    char se[32];
    std::snprintf(se, sizeof(se), "%.3f", r.recall_worst_std_error);
    os << "\nrecall R: " << r.recall_signal << "; its standard error is at most " << se
       << " (recall_se: measured, p (1 - p) / trials per cell)\n";
    os << "commonsense C: " << r.commonsense_signal << "\n";
  }
  if (!r.rankings.empty()) {
    os << "\nrankings side by side: each layer's place in the method's order (1 = first to stay "
          "attention), * = among the "
       << kept.size() << " that method keeps\n";
    std::string header = "layer";
    for (const auto& m : r.rankings) {
      std::snprintf(line, sizeof(line), "  %9s", m.method.c_str());
      header += line;
    }
    os << header << "\n";
    for (int64_t i = 0; i < s.num_layers; ++i) {
      std::snprintf(line, sizeof(line), "%5lld", static_cast<long long>(i));
      std::string row = line;
      for (const auto& m : r.rankings) {
        const bool is_kept = std::find(m.kept.begin(), m.kept.end(), i) != m.kept.end();
        std::string place;
        if (m.method == "uniform") {
          place = is_kept ? "*" : "-";
        } else {
          const auto at = std::find(m.order.begin(), m.order.end(), i) - m.order.begin();
          place = std::to_string(at + 1) + (is_kept ? "*" : " ");
        }
        std::snprintf(line, sizeof(line), "  %9s", place.c_str());
        row += line;
      }
      os << row << "\n";
    }
  }
  const auto own = findings_of_method(r);
  if (r.findings.empty()) {
    os << "\nno ties or degenerate scores\n";
  } else {
    os << "\nties and degenerate scores (! = the chosen method " << selection_method_name(r.method)
       << "; ties are broken by " << kTieBreak << "):\n";
    for (const auto& f : own) os << "  ! " << f.message << "\n";
    for (const auto& f : r.findings) {
      if (f.method != selection_method_name(r.method)) os << "  - " << f.message << "\n";
    }
  }
  return os.str();
}

nlohmann::json selection_report_json(const SelectionResult& r) {
  const auto& s = r.scores;
  nlohmann::json j;
  j["method"] = selection_method_name(r.method);
  j["num_layers"] = s.num_layers;
  j["attention_layers"] = attention_layers_of(r.mixer_types);
  auto mixers = nlohmann::json::array();
  for (auto m : r.mixer_types) mixers.push_back(hypenet::mixer_type_name(m));
  j["mixer_types"] = mixers;
  auto layers = nlohmann::json::array();
  for (size_t i = 0; i < static_cast<size_t>(s.num_layers); ++i) {
    layers.push_back(
        {{"layer", i},
         {"entropy", value_or_null(s.entropy, i)},
         {"entropy_per_head", i < s.entropy_per_head.size() ? nlohmann::json(s.entropy_per_head[i])
                                                            : nlohmann::json(nullptr)},
         {"recall", value_or_null(s.recall, i)},
         {"recall_std_error", value_or_null(s.recall_std_error, i)},
         {"commonsense", value_or_null(s.commonsense, i)},
         {"commonsense_std_error", value_or_null(s.commonsense_std_error, i)},
         {"importance", value_or_null(s.importance, i)},
         {"kl", value_or_null(s.kl, i)},
         {"mixer", i < r.mixer_types.size() ? hypenet::mixer_type_name(r.mixer_types[i])
                                            : std::string("?")}});
  }
  j["layers"] = layers;
  auto rankings = nlohmann::json::object();
  for (const auto& m : r.rankings) rankings[m.method] = m.to_json();
  j["rankings"] = rankings;
  auto findings = nlohmann::json::array();
  for (const auto& f : r.findings) findings.push_back(f.to_json());
  j["findings"] = findings;
  j["tie_break"] = kTieBreak;
  if (!r.recall_signal.empty()) {
    j["recall_signal"] = r.recall_signal;
    j["commonsense_signal"] = r.commonsense_signal;
    j["recall_worst_std_error"] = r.recall_worst_std_error;
  }
  return j;
}

void write_selection_report(const std::filesystem::path& dir, const SelectionResult& r) {
  std::filesystem::create_directories(dir);
  write_file(dir / "selection_report.txt", format_selection_table(r));
  write_file(dir / "selection_report.json", selection_report_json(r).dump(2) + "\n");
}

}  // namespace halo::selection
