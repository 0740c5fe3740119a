// Implementation of html_report.h: the page skeleton (head, CSS, contents) and one function per
// section; charts come from svg_chart, the evaluation section from eval_section.
#include "halo/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <ctime>
#include <limits>
#include <set>

#include "common/atomic_file.h"
#include "common/error.h"
#include "halo/report/eval_section.h"
#include "halo/report/html_parts.h"
#include "halo/report/svg_chart.h"
#include "halo/report/yaml_text.h"

namespace halo::report {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// No '>' in the CSS: the page is also well-formed XML (the tests parse it).
const char* kCss = R"(
body { font-family: sans-serif; color: #222222; margin: 0 auto; padding: 16px 24px;
       max-width: 1500px; line-height: 1.4; }
h1 { margin-bottom: 4px; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 4px; margin-top: 36px; }
h3 { margin-top: 24px; }
.meta { color: #555555; margin-top: 0; }
nav a { margin-right: 14px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(520px, 1fr)); gap: 14px;
        align-items: start; }
figure { margin: 0; }
figcaption { font-size: 13px; color: #444444; margin: 2px 8px 0 8px; }
svg { max-width: 100%; height: auto; border: 1px solid #e4e4e4; }
table { border-collapse: collapse; margin: 8px 0; font-size: 14px; }
th, td { border: 1px solid #cccccc; padding: 3px 10px; text-align: right; }
th { background: #eef3f8; }
th:first-child, td:first-child, td.text { text-align: left; }
tbody tr:nth-child(even) { background: #f7f7f7; }
td.chosen { font-weight: bold; color: #D55E00; }
.note { background: #fff6df; border-left: 4px solid #E69F00; padding: 6px 10px; }
pre { background: #f6f6f6; padding: 10px; overflow: auto; font-size: 13px; max-height: 600px; }
code { font-size: 13px; }
)";

std::string loss_name(const RunFolder& run, const std::string& stage) {
  if (!run.pipeline.is_object() || !run.pipeline.contains("stages")) return "";
  for (const auto& s : run.pipeline["stages"]) {
    if (s.is_object() && s.value("name", "") == stage) return s.value("loss", "");
  }
  return "";
}

// Log scale when positive values span more than `ratio` (a KL loss falling 100x, say).
bool wide_positive_range(const std::vector<double>& v, double ratio) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (double x : v) {
    if (!std::isfinite(x)) continue;
    if (x <= 0) return false;
    lo = std::min(lo, x);
    hi = std::max(hi, x);
  }
  return hi > 0 && hi / lo > ratio;
}

std::string last_finite(const std::vector<double>& v, const char* format) {
  for (auto it = v.rbegin(); it != v.rend(); ++it) {
    if (std::isfinite(*it)) return format_number(*it, format);
  }
  return "-";
}

std::string stages_section(const RunFolder& run) {
  HtmlTable t;
  t.header = {"stage", "kind", "status", "steps", "last train loss", "validation loss", "tokens/s"};
  for (const auto& s : run.stages) {
    const json& d = s.done_json;
    std::string status = s.done ? "done" : s.has_metrics ? "stopped or running" : "not started";
    std::string steps = json_number(d, "steps", "%.0f");
    if (steps == "-" && !s.metrics.step.empty()) steps = last_finite(s.metrics.step, "%.0f");
    std::string train = json_number(d, "last_loss");
    if (train == "-") train = last_finite(s.metrics.loss, "%.4g");
    std::string val = json_number(d, "val_loss");
    if (val == "-") val = last_finite(s.metrics.val_loss, "%.4g");
    std::string tps = json_number(d, "tokens_per_s", "%.0f");
    t.rows.push_back({"<a href=\"#stage-" + html_text(s.name) + "\">" + html_text(s.name) + "</a>",
                      html_text(s.kind.empty() ? "?" : s.kind), status, steps, train, val, tps});
  }
  return table_html(t);
}

std::string stage_charts(const RunFolder& run, const StageRecord& s) {
  const StageMetrics& m = s.metrics;
  // Steps where the sequence length changes (the stage 3 curriculum).
  std::vector<double> changes;
  std::string change_text;
  for (size_t i = 1; i < m.seq_len.size(); ++i) {
    if (std::isfinite(m.seq_len[i]) && std::isfinite(m.seq_len[i - 1]) &&
        m.seq_len[i] != m.seq_len[i - 1]) {
      changes.push_back(m.step[i]);
      change_text += (change_text.empty() ? "" : "; ") + format_number(m.seq_len[i - 1], "%.0f") +
                     " to " + format_number(m.seq_len[i], "%.0f") + " tokens at step " +
                     format_number(m.step[i], "%.0f");
    }
  }
  auto chart = [&](const std::string& what, const std::string& y_label, std::vector<Series> series,
                   bool log_y) {
    LineChartSpec c;
    c.title = s.name + ": " + what;
    c.x_label = "step";
    c.y_label = y_label;
    c.series = std::move(series);
    c.log_y = log_y;
    c.x_markers = changes;
    if (!changes.empty()) c.marker_label = "sequence length change";
    c.width = 560;
    c.height = 320;
    return line_chart_svg(c);
  };
  const std::string loss = loss_name(run, s.name);
  std::vector<Series> loss_series = {{"train", m.step, m.loss}};
  if (!m.val_step.empty()) loss_series.push_back({"validation", m.val_step, m.val_loss});
  std::vector<double> all_loss = m.loss;
  all_loss.insert(all_loss.end(), m.val_loss.begin(), m.val_loss.end());

  std::string out = "<h3 id=\"stage-" + html_text(s.name) + "\">" + html_text(s.name) +
                    (s.kind.empty() ? "" : " <small>(" + html_text(s.kind) + ")</small>") +
                    "</h3>\n";
  if (!change_text.empty()) out += "<p>Sequence length: " + html_text(change_text) + ".</p>\n";
  const bool log_loss = wide_positive_range(all_loss, 30);
  const bool log_grad = wide_positive_range(m.grad_norm, 30);
  out += "<div class=\"grid\">\n";
  out += figure_html(
      chart("loss", loss.empty() ? "loss" : "loss (" + loss + ")", loss_series, log_loss),
      log_loss ? "log scale: the loss spans more than 30x" : "");
  out += figure_html(chart("learning rate", "learning rate", {{"lr", m.step, m.lr}}, false));
  out += figure_html(chart("gradient norm", "gradient norm (before clipping)",
                           {{"grad norm", m.step, m.grad_norm}}, log_grad),
                     log_grad ? "log scale: the norm spans more than 30x" : "");
  out +=
      figure_html(chart("throughput", "tokens/s", {{"tokens/s", m.step, m.tokens_per_s}}, false));
  out += "</div>\n";
  return out;
}

std::string training_section(const RunFolder& run) {
  std::string out;
  for (const auto& s : run.stages) {
    if (s.has_metrics && !s.metrics.empty()) out += stage_charts(run, s);
  }
  return out;
}

// The retrieval results of an entry: keys whose value is a list of {"context_length", ...}.
std::vector<std::pair<std::string, double>> retrieval_columns(const json& entries) {
  std::vector<std::pair<std::string, double>> cols;
  for (const auto& e : entries) {
    if (!e.is_object()) continue;
    for (const auto& [key, value] : e.items()) {
      if (!value.is_array()) continue;
      for (const auto& r : value) {
        if (!r.is_object() || !r.contains("context_length") || !r["context_length"].is_number())
          continue;
        const std::pair<std::string, double> col{key, r["context_length"].get<double>()};
        if (std::find(cols.begin(), cols.end(), col) == cols.end()) cols.push_back(col);
      }
    }
  }
  std::sort(cols.begin(), cols.end());
  return cols;
}

std::string quality_section(const RunFolder& run) {
  if (!run.quality.is_array() || run.quality.empty()) {
    return note_html(
        "No quality gate entries (RUN/report.json): the gate was off "
        "(quality_gate.enabled) or has not run yet.");
  }
  // The teacher: the entry labelled "teacher", else the pretrain stage that made it.
  double teacher = kNaN;
  std::string first_pretrain;
  for (const auto& s : run.stages) {
    if (s.kind == "pretrain" && first_pretrain.empty()) first_pretrain = s.name;
  }
  for (const auto& e : run.quality) {
    if (!e.is_object()) continue;
    const std::string label = e.value("label", "");
    const auto v = e.value("validation", json::object());
    if (label == "teacher" || (std::isnan(teacher) && label == first_pretrain)) {
      if (v.is_object() && v.contains("loss") && v["loss"].is_number()) teacher = v["loss"];
    }
  }
  const auto cols = retrieval_columns(run.quality);
  HtmlTable t;
  t.header = {"model", "validation loss", "loss / teacher's", "perplexity", "next-token accuracy"};
  for (const auto& [key, len] : cols) {
    t.header.push_back(html_text(key + "@" + format_tick(len, len, true)));
  }
  for (const auto& e : run.quality) {
    if (!e.is_object()) continue;
    const auto v = e.value("validation", json::object());
    const double loss = v.is_object() && v.contains("loss") && v["loss"].is_number()
                            ? v["loss"].get<double>()
                            : kNaN;
    std::vector<std::string> row = {html_text(json_brief(e.value("label", json("?")))),
                                    json_number(v, "loss"), format_number(loss / teacher, "%.3f"),
                                    json_number(v, "perplexity", "%.4g"),
                                    json_number(v, "accuracy", "%.3f")};
    for (const auto& [key, len] : cols) {
      std::string cell = "-";
      if (e.contains(key) && e[key].is_array()) {
        for (const auto& r : e[key]) {
          if (r.is_object() && r.value("context_length", -1.0) == len) {
            cell = json_number(r, "accuracy", "%.2f");
            if (r.contains("correct") && r.contains("samples")) {
              cell += " (" + json_number(r, "correct", "%.0f") + "/" +
                      json_number(r, "samples", "%.0f") + ")";
            }
          }
        }
      }
      row.push_back(cell);
    }
    t.rows.push_back(row);
  }
  std::string out = table_html(t);
  out +=
      "<p>Each entry is a model evaluated after its stage on the same validation tokens; "
      "retrieval columns give accuracy (correct / trials) at a context length.</p>\n";
  if (run.pipeline.is_object() && run.pipeline.contains("quality_gate")) {
    const auto& q = run.pipeline["quality_gate"];
    if (q.is_object() && q.contains("thresholds")) {
      out += "<p>Thresholds: <code>" + html_text(json_brief(q["thresholds"])) + "</code></p>\n";
    }
  }
  return out;
}

std::string selection_section(const RunFolder& run) {
  const json& sel = run.selection;
  if (!sel.is_object()) {
    return note_html("No layer selection report (SELECTION_STAGE/selection_report.json).");
  }
  std::set<int64_t> chosen;
  if (sel.contains("attention_layers") && sel["attention_layers"].is_array()) {
    for (const auto& l : sel["attention_layers"]) {
      if (l.is_number_integer()) chosen.insert(l.get<int64_t>());
    }
  }
  const json layers = sel.value("layers", json::array());
  std::string out = "<p>Stage <code>" + html_text(run.selection_stage) + "</code>, method <b>" +
                    html_text(json_brief(sel.value("method", json("?")))) +
                    "</b>: " + std::to_string(chosen.size()) + " of " +
                    json_number(sel, "num_layers", "%.0f") + " layers kept as attention (";
  std::string list;
  for (auto l : chosen) list += (list.empty() ? "" : ", ") + std::to_string(l);
  out += html_text(list.empty() ? "none" : list) +
         "), the others converted to Lightning "
         "attention.</p>\n";

  // Every per-layer score that is a number (or null) in each layer.
  std::vector<std::string> keys;
  for (const auto& layer : layers) {
    if (!layer.is_object()) continue;
    for (const auto& [key, value] : layer.items()) {
      if (key == "layer" || !(value.is_number() || value.is_null())) continue;
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) keys.push_back(key);
    }
  }
  // The score the method ranks by comes first.
  const std::string method =
      sel.value("method", json("")).is_string() ? sel.value("method", "") : "";
  const std::string ranked_by = method == "halo"      ? "importance"
                                : method == "entropy" ? "entropy"
                                : method == "kl"      ? "kl"
                                                      : "";
  std::stable_partition(keys.begin(), keys.end(),
                        [&](const std::string& k) { return k == ranked_by; });
  std::vector<std::string> labels;
  std::vector<bool> highlighted;
  for (size_t i = 0; i < layers.size(); ++i) {
    const int64_t idx = layers[i].is_object() && layers[i].contains("layer") &&
                                layers[i]["layer"].is_number_integer()
                            ? layers[i]["layer"].get<int64_t>()
                            : static_cast<int64_t>(i);
    labels.push_back(std::to_string(idx));
    highlighted.push_back(chosen.count(idx) > 0);
  }
  std::string charts, notes, method_tie;
  for (const auto& key : keys) {
    BarChartSpec b;
    b.title = "layer " + key;
    b.x_label = "layer";
    b.y_label = key;
    b.labels = labels;
    b.highlighted = highlighted;
    b.highlight_name = "kept as attention";
    b.other_name = "converted to Lightning";
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& layer : layers) {
      const double v = layer.is_object() && layer.contains(key) && layer[key].is_number()
                           ? layer[key].get<double>()
                           : kNaN;
      b.values.push_back(v);
      if (std::isfinite(v)) {
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
    std::string caption;
    const bool std_error = key.size() > 10 && key.compare(key.size() - 10, 10, "_std_error") == 0;
    if (layers.size() > 1 && lo == hi && std_error) {
      // A standard error is not a signal: equal ones say nothing about ties.
      caption = "Every layer's standard error is " + format_number(lo, "%.4g") + ".";
    } else if (layers.size() > 1 && lo == hi) {
      caption = "Every layer scores " + format_number(lo, "%.4g") +
                ": this signal does not tell the layers apart.";
      notes += "<li><b>" + html_text(key) + "</b>: " + html_text(caption) + "</li>\n";
      if (key == ranked_by) {
        method_tie = "Method " + method + " ranks the layers by " + key +
                     ", and every layer scores " + format_number(lo, "%.4g") +
                     ": the layers kept as attention (" + (list.empty() ? "none" : list) +
                     ") were chosen by tie-breaking, not by the model.";
      }
    }
    charts += figure_html(bar_chart_svg(b), html_text(caption));
  }
  if (!notes.empty()) {
    out += note_html((method_tie.empty() ? "" : "<b>" + html_text(method_tie) + "</b><br/>") +
                     "Degenerate scores: a choice ranked by them is decided by how ties are "
                     "broken, not by the model.<ul>\n" +
                     notes + "</ul>");
  }
  out += "<div class=\"grid\">\n" + charts;
  // Attention entropy per head: layers x heads.
  HeatmapSpec h;
  h.title = "attention entropy per head";
  h.x_label = "head";
  h.y_label = "layer";
  double lo = std::numeric_limits<double>::infinity(), hi = -lo;
  size_t heads = 0;
  for (size_t i = 0; i < layers.size(); ++i) {
    const json per = layers[i].is_object() ? layers[i].value("entropy_per_head", json()) : json();
    if (!per.is_array()) continue;
    std::vector<double> row;
    for (const auto& v : per) {
      row.push_back(v.is_number() ? v.get<double>() : kNaN);
      if (std::isfinite(row.back())) {
        lo = std::min(lo, row.back());
        hi = std::max(hi, row.back());
      }
    }
    heads = std::max(heads, row.size());
    h.values.push_back(row);
    h.y_ticks.push_back(labels[i] + (highlighted[i] ? " *" : ""));
  }
  if (!h.values.empty() && heads > 0 && lo <= hi) {
    for (auto& row : h.values) row.resize(heads, kNaN);
    for (size_t k = 0; k < heads; ++k) h.x_ticks.push_back(std::to_string(k));
    h.vmin = lo;
    h.vmax = hi > lo ? hi : lo + 1;
    h.cell_width = heads > 16 ? 40 : 56;
    out += figure_html(heatmap_svg(h),
                       "* kept as attention. Entropy of each head's attention "
                       "weights (nats), averaged over positions.");
  }
  out += "</div>\n";

  // The table of every score, chosen layers in bold.
  HtmlTable t;
  t.header = {"layer"};
  for (const auto& k : keys) t.header.push_back(html_text(k));
  t.header.push_back("mixer");
  for (size_t i = 0; i < layers.size(); ++i) {
    std::vector<std::string> row = {html_text(labels[i]) + (highlighted[i] ? " *" : "")};
    for (const auto& k : keys) row.push_back(json_number(layers[i], k.c_str(), "%.4g"));
    row.push_back(
        html_text(layers[i].is_object() ? json_brief(layers[i].value("mixer", json("?"))) : "?"));
    t.rows.push_back(row);
  }
  out += table_html(t);
  // Every method's ranking side by side: each layer's place (1 = first to stay attention), the
  // layers each method keeps marked *.
  const json rankings = sel.value("rankings", json::object());
  if (rankings.is_object() && !rankings.empty()) {
    HtmlTable rt;
    rt.header = {"layer"};
    for (const auto& [name, r] : rankings.items()) rt.header.push_back(html_text(name));
    for (size_t i = 0; i < layers.size(); ++i) {
      const int64_t idx = std::stoll(labels[i]);
      std::vector<std::string> row = {html_text(labels[i])};
      for (const auto& [name, r] : rankings.items()) {
        const json order = r.is_object() ? r.value("order", json::array()) : json::array();
        const json kept = r.is_object() ? r.value("kept", json::array()) : json::array();
        const bool is_kept = std::find(kept.begin(), kept.end(), json(idx)) != kept.end();
        const auto at = std::find(order.begin(), order.end(), json(idx));
        std::string place;
        if (name == "uniform" || at == order.end()) {
          place = is_kept ? "*" : "-";
        } else {
          place = std::to_string(at - order.begin() + 1) + (is_kept ? " *" : "");
        }
        row.push_back(html_text(place));
      }
      rt.rows.push_back(row);
    }
    out +=
        "<p>Rankings side by side: each layer's place in the method's order (1 = first to "
        "stay attention); * = among the layers that method keeps.</p>\n" +
        table_html(rt);
  }
  // Ties and degenerate scores found by the selection (the chosen method's in bold).
  const json findings = sel.value("findings", json::array());
  if (findings.is_array() && !findings.empty()) {
    std::string items;
    for (const auto& f : findings) {
      if (!f.is_object()) continue;
      const bool own = f.value("method", json("")) == json(method);
      const std::string text = html_text(json_brief(f.value("message", json("?")), 2000));
      items += "<li>" + (own ? "<b>" + text + "</b>" : text) + "</li>\n";
    }
    out += note_html(
        "Ties and degenerate scores (the chosen method's in bold; ties are broken by " +
        html_text(json_brief(sel.value("tie_break", json("?")))) + "):<ul>\n" + items + "</ul>");
  }
  // Keys this report does not draw.
  for (const auto& [key, value] : sel.items()) {
    if (key == "layers" || key == "method" || key == "num_layers" || key == "attention_layers" ||
        key == "mixer_types" || key == "config_hash" || key == "rankings" || key == "findings" ||
        key == "tie_break")
      continue;
    out += "<p><b>" + html_text(key) + "</b>: <code>" + html_text(json_brief(value, 2000)) +
           "</code></p>\n";
  }
  return out;
}

std::string config_section(const RunFolder& run) {
  if (!run.pipeline.is_object()) {
    return note_html("No RUN/pipeline.json: the configuration is not recorded in this folder.");
  }
  return "<p>The resolved configuration as the run used it (<code>RUN/pipeline.json</code>, "
         "written as YAML; <code>--set</code> overrides included).</p>\n<pre>" +
         html_text(json_to_yaml(run.pipeline)) + "</pre>\n";
}

}  // namespace

std::string utc_now_iso() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string render_html_report(const RunFolder& run, const std::string& generated_at) {
  const std::string title = "halo-distill run report: " + run.dir.filename().string();
  std::vector<std::pair<std::string, std::string>> nav = {{"stages", "Stages"},
                                                          {"training", "Training curves"},
                                                          {"quality", "Quality gate"},
                                                          {"selection", "Layer selection"}};
  if (run.eval.is_object()) nav.push_back({"eval", "Evaluation"});
  nav.push_back({"config", "Configuration"});

  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n"
      "<title>" +
      html_text(title) + "</title>\n<style>" + kCss + "</style>\n</head>\n<body>\n";
  out += "<h1>Run report</h1>\n<p class=\"meta\"><code>" + html_text(run.dir.string()) +
         "</code> &#183; generated " + html_text(generated_at) +
         " by <code>halo-distill report</code></p>\n<nav>";
  for (const auto& [id, name] : nav) out += "<a href=\"#" + id + "\">" + name + "</a>";
  out += "</nav>\n";
  out += "<h2 id=\"stages\">Stages</h2>\n" + stages_section(run);
  out += "<h2 id=\"training\">Training curves</h2>\n" + training_section(run);
  out += "<h2 id=\"quality\">Quality gate</h2>\n" + quality_section(run);
  out += "<h2 id=\"selection\">Layer selection</h2>\n" + selection_section(run);
  if (run.eval.is_object())
    out += "<h2 id=\"eval\">Evaluation</h2>\n" + eval_section_html(run.eval);
  out += "<h2 id=\"config\">Configuration</h2>\n" + config_section(run);
  out += "</body>\n</html>\n";
  return out;
}

fs::path write_html_report(const fs::path& run_dir, const fs::path& out) {
  const RunFolder run = read_run_folder(run_dir);
  const fs::path path = out.empty() ? run_dir / "report.html" : out;
  if (path.has_parent_path()) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    HALO_CHECK(!ec, path.parent_path().string(), ": cannot create the report's folder (",
               ec.message(), ")");
  }
  write_text_atomically(path.string(), render_html_report(run, utc_now_iso()));
  return path;
}

}  // namespace halo::report
