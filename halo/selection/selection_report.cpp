// Implementation of selection_report.h.
#include "halo/selection/selection_report.h"

#include "halo/common/error.h"
#include "halo/selection/choose_mixers.h"

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
  os << "layer selection: method " << selection_method_name(r.method) << ", "
     << attention_layers_of(r.mixer_types).size() << " of " << s.num_layers
     << " layers kept as attention\n";
  char line[256];
  std::snprintf(line, sizeof(line), "%5s  %10s  %8s  %11s  %10s  %10s  %s\n", "layer", "entropy",
                "recall", "commonsense", "importance", "kl", "mixer");
  os << line;
  for (size_t i = 0; i < static_cast<size_t>(s.num_layers); ++i) {
    const bool attn =
        i < r.mixer_types.size() && r.mixer_types[i] == hypenet::MixerType::kAttention;
    std::snprintf(line, sizeof(line), "%5zu  %10s  %8s  %11s  %10s  %10s  %s\n", i,
                  cell(s.entropy, i, "%.4f").c_str(), cell(s.recall, i, "%.3f").c_str(),
                  cell(s.commonsense, i, "%.4f").c_str(), cell(s.importance, i, "%.4g").c_str(),
                  cell(s.kl, i, "%.4g").c_str(), attn ? "attn" : "lightning-attn");
    os << line;
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
         {"commonsense", value_or_null(s.commonsense, i)},
         {"importance", value_or_null(s.importance, i)},
         {"kl", value_or_null(s.kl, i)},
         {"mixer", i < r.mixer_types.size() ? hypenet::mixer_type_name(r.mixer_types[i])
                                            : std::string("?")}});
  }
  j["layers"] = layers;
  return j;
}

void write_selection_report(const std::filesystem::path& dir, const SelectionResult& r) {
  std::filesystem::create_directories(dir);
  write_file(dir / "selection_report.txt", format_selection_table(r));
  write_file(dir / "selection_report.json", selection_report_json(r).dump(2) + "\n");
}

}  // namespace halo::selection
