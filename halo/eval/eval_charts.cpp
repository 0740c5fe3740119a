// Implementation of eval_charts.h.
#include "halo/eval/eval_charts.h"

#include "common/atomic_file.h"
#include "halo/eval/eval_results.h"
#include "halo/report/svg_chart.h"

#include <cctype>
#include <cmath>

namespace halo::eval {

namespace {

namespace fs = std::filesystem;

// A model or task name as part of a file name: letters, digits, '.', '-', '_' kept.
std::string file_part(const std::string& name) {
  std::string s;
  for (unsigned char c : name) {
    s += std::isalnum(c) || c == '.' || c == '-' || c == '_' ? static_cast<char>(c) : '_';
  }
  return s;
}

std::vector<std::string> model_names(const nlohmann::json& results) {
  std::vector<std::string> names;
  for (const auto& m : results.at("models")) names.push_back(m.at("name").get<std::string>());
  return names;
}

class ChartWriter {
 public:
  explicit ChartWriter(fs::path dir) : dir_(std::move(dir)) {}
  void write(const std::string& stem, const std::string& svg) {
    const auto path = dir_ / (stem + ".svg");
    write_text_atomically(path.string(), svg);
    written_.push_back(path);
    const auto png = dir_ / (stem + ".png");
    if (report::svg_to_png(path, png)) written_.push_back(png);
  }
  std::vector<fs::path> written() const { return written_; }

 private:
  fs::path dir_;
  std::vector<fs::path> written_;
};

void niah_heatmaps(const std::string& task, const nlohmann::json& t,
                   const std::vector<std::string>& models, ChartWriter& out) {
  report::HeatmapSpec base;
  base.x_label = "needle depth";
  base.y_label = "length";
  for (const auto& d : t.at("depths")) {
    base.x_ticks.push_back(std::to_string(std::lround(100.0 * d.get<double>())) + "%");
  }
  for (const auto& l : t.at("lengths")) base.y_ticks.push_back(length_label(l.get<int64_t>()));
  for (const auto& m : models) {
    if (!t.at("accuracy").contains(m)) continue;
    auto spec = base;
    spec.title = task + ": " + m;
    spec.values = t.at("accuracy").at(m).get<std::vector<std::vector<double>>>();
    out.write(file_part(task) + "-" + file_part(m), report::heatmap_svg(spec));
  }
}

void position_chart(const nlohmann::json& t, const std::vector<std::string>& models,
                    ChartWriter& out) {
  report::LineChartSpec spec;
  spec.title = "Loss by position";
  spec.x_label = "position (tokens; bucket centres)";
  spec.y_label = "mean next-token loss (nats)";
  const auto edges = t.at("bucket_edges").get<std::vector<int64_t>>();
  std::vector<double> centres;
  for (size_t b = 0; b + 1 < edges.size(); ++b) centres.push_back(0.5 * (edges[b] + edges[b + 1]));
  for (const auto& m : models) {
    if (!t.at("loss").contains(m)) continue;
    spec.series.push_back({m, centres, t.at("loss").at(m).get<std::vector<double>>()});
  }
  if (!t.at("train_length").is_null()) {
    spec.x_markers.push_back(t.at("train_length").get<double>());
    spec.marker_label = "training length";
  }
  out.write("ppl-by-position", report::line_chart_svg(spec));
}

void retrieval_chart(const std::string& task, const nlohmann::json& t,
                     const std::vector<std::string>& models, ChartWriter& out) {
  report::LineChartSpec spec;
  spec.title =
      task + " accuracy (" + std::to_string(t.at("trials").get<int64_t>()) + " prompts per length)";
  spec.x_label = "prompt length (tokens)";
  spec.y_label = "accuracy";
  spec.log_x = true;
  const auto lengths = t.at("lengths").get<std::vector<double>>();
  for (const auto& m : models) {
    if (!t.at("accuracy").contains(m)) continue;
    spec.series.push_back({m, lengths, t.at("accuracy").at(m).get<std::vector<double>>()});
  }
  out.write(file_part(task), report::line_chart_svg(spec));
}

}  // namespace

std::string length_label(int64_t tokens) {
  if (tokens >= (1 << 20) && tokens % (1 << 20) == 0) return std::to_string(tokens >> 20) + "M";
  if (tokens >= 1024 && tokens % 1024 == 0) return std::to_string(tokens >> 10) + "K";
  return std::to_string(tokens);
}

std::vector<fs::path> write_eval_charts(const nlohmann::json& results, const fs::path& out_dir) {
  const auto models = model_names(results);
  ChartWriter out(out_dir);
  for (const auto& name : task_order(results)) {
    const auto& t = results.at("tasks").at(name);
    if (t.contains("depths")) {
      niah_heatmaps(name, t, models, out);
    } else if (t.contains("bucket_edges")) {
      position_chart(t, models, out);
    } else if (t.contains("lengths")) {
      retrieval_chart(name, t, models, out);
    }
  }
  return out.written();
}

}  // namespace halo::eval
