// Implementation of eval_section.h: one renderer per task family, each checking the shape it
// reads (a std::string reason when it does not match) so that the generic table takes over.
#include "halo/report/eval_section.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "halo/report/html_parts.h"
#include "halo/report/svg_chart.h"

namespace halo::report {

namespace {

using nlohmann::json;
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Thrown inside a renderer when the task's JSON is not the expected shape.
struct ShapeError {
  std::string reason;
};

void expect(bool ok, const std::string& reason) {
  if (!ok) throw ShapeError{reason};
}

double number_or_nan(const json& v) {
  return v.is_number() ? v.get<double>() : kNaN;
}

std::vector<double> numbers(const json& task, const char* key) {
  expect(task.contains(key) && task[key].is_array(), std::string("no \"") + key + "\" list");
  std::vector<double> out;
  for (const auto& v : task[key]) {
    expect(v.is_number() || v.is_null(), std::string("\"") + key + "\" holds a non-number");
    out.push_back(number_or_nan(v));
  }
  return out;
}

// Model names in results.json's "models" order, then any others the task's map names.
std::vector<std::string> model_order(const json& results, const json& by_model) {
  std::vector<std::string> names;
  if (results.contains("models") && results["models"].is_array()) {
    for (const auto& m : results["models"]) {
      if (m.is_object() && m.contains("name") && m["name"].is_string() &&
          by_model.contains(m["name"].get<std::string>())) {
        names.push_back(m["name"].get<std::string>());
      }
    }
  }
  for (const auto& [name, value] : by_model.items()) {
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  return names;
}

const json& model_map(const json& task, const char* key) {
  expect(task.contains(key) && task[key].is_object(), std::string("no \"") + key + "\" object");
  return task[key];
}

std::string length_label(double v) {
  return format_tick(v, v, true);
}

std::string niah_html(const std::string& name, const json& task, const json& results) {
  const auto lengths = numbers(task, "lengths");
  const auto depths = numbers(task, "depths");
  const json& acc = model_map(task, "accuracy");
  std::string out = "<div class=\"grid\">\n";
  for (const auto& model : model_order(results, acc)) {
    const json& grid = acc[model];
    expect(grid.is_array() && grid.size() == lengths.size(),
           "accuracy of " + model + " is not one list per length");
    HeatmapSpec h;
    h.title = name + ": " + model;
    h.x_label = "context length (tokens)";
    h.y_label = "needle depth";
    for (double l : lengths) h.x_ticks.push_back(length_label(l));
    for (double d : depths) h.y_ticks.push_back(format_number(d, "%.2g"));
    h.values.assign(depths.size(), std::vector<double>(lengths.size(), kNaN));
    for (size_t li = 0; li < lengths.size(); ++li) {
      expect(grid[li].is_array() && grid[li].size() == depths.size(),
             "accuracy of " + model + " at length " + length_label(lengths[li]) +
                 " is not one value per depth");
      for (size_t di = 0; di < depths.size(); ++di) h.values[di][li] = number_or_nan(grid[li][di]);
    }
    out += figure_html(heatmap_svg(h));
  }
  out += "</div>\n";
  if (task.contains("trials")) {
    out += "<p>" + json_number(task, "trials", "%.0f") +
           " trials per cell; 1.00 = every needle retrieved.</p>\n";
  }
  return out;
}

std::string by_length_html(const std::string& name, const json& task, const json& results) {
  const auto lengths = numbers(task, "lengths");
  const json& acc = model_map(task, "accuracy");
  LineChartSpec c;
  c.title = name + ": accuracy by context length";
  c.x_label = "context length (tokens)";
  c.y_label = "accuracy";
  c.log_x = true;
  c.y_min = 0;
  c.y_max = 1;
  HtmlTable t;
  t.header.push_back("model");
  for (double l : lengths) t.header.push_back(html_text(length_label(l)));
  for (const auto& model : model_order(results, acc)) {
    expect(acc[model].is_array() && acc[model].size() == lengths.size(),
           "accuracy of " + model + " is not one value per length");
    Series s{model, lengths, {}};
    std::vector<std::string> row = {html_text(model)};
    for (const auto& v : acc[model]) {
      s.y.push_back(number_or_nan(v));
      row.push_back(format_number(s.y.back(), "%.2f"));
    }
    c.series.push_back(s);
    t.rows.push_back(row);
  }
  std::string out =
      "<div class=\"grid\">\n" + figure_html(line_chart_svg(c)) + "<div>\n" + table_html(t);
  if (task.contains("trials")) {
    out += "<p>" + json_number(task, "trials", "%.0f") + " trials per length.</p>\n";
  }
  return out + "</div>\n</div>\n";
}

std::string ppl_html(const std::string& name, const json& task, const json& results) {
  const auto edges = numbers(task, "bucket_edges");
  const json& loss = model_map(task, "loss");
  LineChartSpec c;
  c.title = name + ": mean loss by token position";
  c.x_label = "token position (bucket middle)";
  c.y_label = "loss";
  bool all_positive = true;
  std::vector<double> x;
  for (const auto& model : model_order(results, loss)) {
    expect(loss[model].is_array(), "loss of " + model + " is not a list");
    const size_t n = loss[model].size();
    expect(edges.size() == n + 1 || edges.size() == n,
           "loss of " + model + " has " + std::to_string(n) + " buckets for " +
               std::to_string(edges.size()) + " bucket edges");
    // n + 1 edges: buckets [e_i, e_i+1), drawn at their middle; n edges: bucket starts.
    x.clear();
    for (size_t i = 0; i < n; ++i) {
      x.push_back(edges.size() == n + 1 ? (edges[i] + edges[i + 1]) / 2 : edges[i]);
      all_positive = all_positive && x.back() > 0;
    }
    Series s{model, x, {}};
    for (const auto& v : loss[model]) s.y.push_back(number_or_nan(v));
    c.series.push_back(s);
  }
  c.log_x = all_positive && !x.empty() && x.back() / x.front() >= 16;
  if (task.contains("train_length") && task["train_length"].is_number()) {
    c.x_markers.push_back(task["train_length"].get<double>());
    c.marker_label = "training length";
  }
  return "<div class=\"grid\">\n" + figure_html(line_chart_svg(c)) + "</div>\n";
}

std::string mc_html(const std::vector<std::pair<std::string, const json*>>& tasks,
                    const json& results) {
  HtmlTable t;
  t.header = {"task", "items", "model", "acc", "acc_norm"};
  for (const auto& [name, task] : tasks) {
    const json& acc = model_map(*task, "acc");
    const json empty = json::object();
    const json& norm = task->contains("acc_norm") ? (*task)["acc_norm"] : empty;
    for (const auto& model : model_order(results, acc)) {
      t.rows.push_back({html_text(name), json_number(*task, "items", "%.0f"), html_text(model),
                        format_number(number_or_nan(acc[model]), "%.3f"),
                        norm.is_object() && norm.contains(model)
                            ? format_number(number_or_nan(norm[model]), "%.3f")
                            : "-"});
    }
  }
  return table_html(t);
}

// Any task: its keys and values, one row each.
std::string generic_html(const json& task) {
  HtmlTable t;
  t.header = {"key", "value"};
  if (task.is_object()) {
    for (const auto& [key, value] : task.items()) {
      t.rows.push_back({html_text(key), "<code>" + html_text(json_brief(value)) + "</code>"});
    }
  } else {
    t.rows.push_back({"(value)", "<code>" + html_text(json_brief(task)) + "</code>"});
  }
  return table_html(t);
}

}  // namespace

std::string eval_section_html(const json& results) {
  std::string out;
  out += "<p>From <code>eval/results.json</code>";
  if (results.contains("format")) out += " (" + html_text(json_brief(results["format"])) + ")";
  if (results.contains("created")) out += ", created " + html_text(json_brief(results["created"]));
  if (results.contains("seed")) out += ", seed " + html_text(json_brief(results["seed"]));
  out += ".</p>\n";
  if (results.contains("models") && results["models"].is_array()) {
    HtmlTable m;
    m.header = {"model", "folder"};
    for (const auto& e : results["models"]) {
      m.rows.push_back({html_text(e.is_object() ? json_brief(e.value("name", json("?"))) : "?"),
                        "<code>" +
                            html_text(e.is_object() ? json_brief(e.value("path", json(""))) : "") +
                            "</code>"});
    }
    out += table_html(m);
  }
  if (!results.contains("tasks") || !results["tasks"].is_object() || results["tasks"].empty()) {
    return out + note_html("results.json lists no tasks.");
  }
  // Known tasks in a fixed order (the file's object keys come sorted), the unknown ones after.
  const json& tasks = results["tasks"];
  std::vector<std::string> order;
  for (const char* known :
       {"niah", "niah-multikey", "niah-multivalue", "passkey", "kv", "ppl-by-position"}) {
    if (tasks.contains(known)) order.push_back(known);
  }
  for (const auto& [name, task] : tasks.items()) {
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  }
  std::vector<std::pair<std::string, const json*>> mc;
  for (const auto& name : order) {
    const json& task = tasks[name];
    if (name.rfind("mc:", 0) == 0) {
      mc.emplace_back(name, &task);
      continue;
    }
    std::string body;
    try {
      expect(task.is_object(), "not an object");
      if (name == "niah" || name == "niah-multikey" || name == "niah-multivalue") {
        body = niah_html(name, task, results);
      } else if (name == "passkey" || name == "kv") {
        body = by_length_html(name, task, results);
      } else if (name == "ppl-by-position") {
        body = ppl_html(name, task, results);
      } else {
        body = note_html("A task this report does not know; its values as written.") +
               generic_html(task);
      }
    } catch (const ShapeError& e) {
      body = note_html("Not the shape this report reads (" + html_text(e.reason) +
                       "); its values as written.") +
             generic_html(task);
    }
    out += "<h3 id=\"eval-" + html_text(name) + "\">" + html_text(name) + "</h3>\n" + body;
  }
  if (!mc.empty()) {
    out += "<h3 id=\"eval-mc\">multiple choice</h3>\n";
    try {
      out += mc_html(mc, results);
      out +=
          "<p>acc: the choice with the highest log-likelihood; acc_norm: log-likelihood per "
          "byte of the choice.</p>\n";
    } catch (const ShapeError& e) {
      out += note_html("Not the shape this report reads (" + html_text(e.reason) +
                       "); the values as written.");
      for (const auto& [name, task] : mc)
        out += "<h4>" + html_text(name) + "</h4>\n" + generic_html(*task);
    }
  }
  return out;
}

}  // namespace halo::report
