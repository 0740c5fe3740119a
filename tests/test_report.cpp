// Tests of the run report (halo/report): the run-folder reader on a hand-made folder (values,
// order, optional parts, bad input with file and line), the YAML view of the config (read back
// with yaml-cpp), and the HTML page: well-formed, self-contained (no script, no external
// resource), with the charts, tables and notes each section promises.
#include <unistd.h>
#include <yaml-cpp/yaml.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "common/error.h"
#include "halo/report/html_report.h"
#include "halo/report/run_folder.h"
#include "halo/report/yaml_text.h"
#include "tests/report_fixture.h"
#include "tests/xml_check.h"

using namespace halo::report;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

using Scratch = halo::test::ScratchDir;

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const halo::HaloError& e) {
    return e.what();
  }
  return "(no error)";
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t p = text.find(what); p != std::string::npos; p = text.find(what, p + 1)) ++n;
  return n;
}

// Compares a YAML node with the JSON it was written from.
void check_same(const YAML::Node& y, const nlohmann::json& j, const std::string& where) {
  INFO(where);
  if (j.is_object()) {
    REQUIRE(y.IsMap());
    CHECK(y.size() == j.size());
    for (const auto& [k, v] : j.items()) {
      REQUIRE(y[k]);
      check_same(y[k], v, where + "." + k);
    }
  } else if (j.is_array()) {
    REQUIRE(y.IsSequence());
    REQUIRE(y.size() == j.size());
    for (size_t i = 0; i < j.size(); ++i)
      check_same(y[i], j[i], where + "[" + std::to_string(i) + "]");
  } else if (j.is_string()) {
    CHECK(y.as<std::string>() == j.get<std::string>());
  } else if (j.is_boolean()) {
    CHECK(y.as<bool>() == j.get<bool>());
  } else if (j.is_number()) {
    CHECK(y.as<double>() == Approx(j.get<double>()));
  } else {
    CHECK(y.IsNull());
  }
}

}  // namespace

TEST_CASE("read_run_folder reads stages in pipeline order with their curves", "[report]") {
  Scratch s("read");
  halo::test::write_sample_run(s.path / "run");
  const RunFolder run = read_run_folder(s.path / "run");
  REQUIRE(run.stages.size() == 3);
  CHECK(run.stages[0].name == "pretrain");
  CHECK(run.stages[1].name == "select");
  CHECK(run.stages[1].kind == "selection");
  CHECK_FALSE(run.stages[1].has_metrics);
  CHECK(run.stages[2].kind == "stage2");
  CHECK_FALSE(run.stages[2].done);
  const auto& m = run.stages[0].metrics;
  REQUIRE(m.step.size() == 6);
  CHECK(m.loss[5] == Approx(5.0));
  CHECK(m.seq_len[3] == 256);
  REQUIRE(m.val_step.size() == 2);
  CHECK(m.val_step[1] == 6);
  CHECK(m.val_loss[1] == Approx(4.9));
  const auto& m2 = run.stages[2].metrics;
  REQUIRE(m2.step.size() == 4);  // the blank line is skipped
  CHECK(std::isnan(m2.grad_norm[1]));
  CHECK(run.selection_stage == "select");
  CHECK(run.selection["attention_layers"][0] == 2);
  CHECK(run.quality.size() == 2);
  CHECK(run.eval["format"] == "halo-eval/1");
}

TEST_CASE("read_run_folder refuses what is not a run folder, naming file and line", "[report]") {
  Scratch s("bad");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "missing"); }),
             Contains("missing: no such run folder"));
  halo::test::write_file(s.path / "file.txt", "x");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "file.txt"); }), Contains("not a folder"));
  fs::create_directories(s.path / "empty");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "empty"); }),
             Contains("no stage folder holds training metrics"));
  // A stage folder whose metrics file is empty is no better.
  halo::test::write_file(s.path / "nometrics" / "pretrain" / "metrics.jsonl", "");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "nometrics"); }),
             Contains("no stage folder holds training metrics"));

  halo::test::write_sample_run(s.path / "run");
  const fs::path metrics = s.path / "run" / "stage2" / "metrics.jsonl";
  halo::test::write_file(metrics, "{\"step\":1,\"loss\":0.1}\n\n{\"step\":2,\"loss\":0.0\n");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "run"); }),
             Contains(metrics.string() + ":3: not a JSON object"));
  halo::test::write_file(metrics, "{\"step\":1,\"loss\":\"low\"}\n");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "run"); }),
             Contains(metrics.string() + ":1: \"loss\" is \"low\"; expected a number"));
  halo::test::write_file(metrics, "{\"loss\":0.5}\n");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "run"); }),
             Contains(metrics.string() + ":1: no numeric \"step\""));
  halo::test::write_file(metrics, "{\"step\":1,\"loss\":0.1}\n");
  halo::test::write_file(s.path / "run" / "report.json", "{\"entries\": [");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "run"); }),
             Contains("report.json: not valid JSON"));
  halo::test::write_file(s.path / "run" / "report.json", "[]");
  CHECK_THAT(error_of([&] { read_run_folder(s.path / "run"); }),
             Contains("report.json: expected an object with an \"entries\" array"));
}

TEST_CASE("json_to_yaml writes YAML that reads back as the same config", "[report]") {
  const auto j = nlohmann::json::parse(R"({
    "run": {"out_dir": "/a b/run", "seed": 0, "device": "cpu"},
    "flags": {"on": true, "off": false, "none": null, "empty_list": [], "empty_map": {}},
    "strings": ["yes", "123", "a: b", "- dash", "#hash", "quote\"d", "", "plain text"],
    "stages": [{"name": "s1", "optimizer": {"lr": 0.001, "betas": [0.9, 0.95]},
                "curriculum": [{"from_step": 0, "seq_len": 128}]}, {"name": "s2"}],
    "nested": [[1, 2], [3]]
  })");
  const std::string y = json_to_yaml(j);
  INFO(y);
  // Keys in pipeline.json's (sorted) order; a list of objects starts each with "- ".
  CHECK_THAT(y, Contains("run:\n  device: cpu\n  out_dir: /a b/run\n"));
  CHECK_THAT(y, Contains("stages:\n  - curriculum:\n      - from_step: 0\n        seq_len: 128\n"
                         "    name: s1\n    optimizer:\n      betas: [0.9, 0.95]\n"));
  CHECK_THAT(y, Contains("  \"on\": true\n"));  // YAML 1.1 would read a plain on as a bool
  check_same(YAML::Load(y), j, "$");
}

TEST_CASE("the HTML report is well-formed, self-contained and shows every section", "[report]") {
  Scratch s("html");
  halo::test::write_sample_run(s.path / "run");
  const RunFolder run = read_run_folder(s.path / "run");
  const std::string html = render_html_report(run, "2026-12-07T05:00:00Z");
  CHECK(halo::test::xml_problem(html).empty());
  INFO(halo::test::xml_problem(html));
  // Self-contained: no script, no external file, no address but the SVG namespace.
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("<link") == std::string::npos);
  CHECK(html.find("src=") == std::string::npos);
  CHECK(html.find("url(") == std::string::npos);
  CHECK(count_of(html, "http") == count_of(html, "http://www.w3.org/2000/svg"));

  // Training curves: four charts per training stage, none for the selection stage.
  CHECK(count_of(html, "<title>pretrain: ") == 4);
  CHECK(count_of(html, "<title>stage2: ") == 4);
  CHECK(count_of(html, "<title>select: ") == 0);
  CHECK_THAT(html, Contains("loss (kl)"));
  CHECK_THAT(html, Contains("128 to 256 tokens at step 4"));
  CHECK_THAT(html, Contains("sequence length change"));
  CHECK_THAT(html, Contains("log scale: the loss spans more than 30x"));  // stage 2's KL

  // Stages table: done / stopped status, the last step from the metrics when done.json is absent.
  CHECK_THAT(html, Contains("<td class=\"text\">stopped or running</td><td>4</td>"));

  // Quality gate: ratio to the teacher (the pretrain stage), retrieval columns per length.
  CHECK_THAT(html, Contains("<td class=\"text\">stage2</td><td>4.4</td><td>1.100</td>"));
  CHECK_THAT(html, Contains("<th>passkey@128</th><th>passkey@512</th>"));
  CHECK_THAT(html, Contains("<td>0.25 (2/8)</td>"));
  CHECK_THAT(html, Contains("max_loss_ratio"));

  // Selection: a bar chart per score, the chosen layer marked, the tie said out loud.
  CHECK_THAT(html, Contains("<title>layer importance</title>"));
  CHECK_THAT(html, Contains("<title>layer kl</title>"));
  CHECK_THAT(html, Contains("kept as attention"));
  CHECK_THAT(html, Contains("Every layer scores 0: this signal does not tell the layers apart."));
  CHECK_THAT(html, Contains("Method halo ranks the layers by importance, and every layer scores 0: "
                            "the layers kept as attention (2) were chosen by tie-breaking"));
  CHECK(html.find("<title>layer importance</title>") < html.find("<title>layer entropy</title>"));
  CHECK_THAT(html, !Contains("Every layer scores 4"));  // entropy differs
  CHECK_THAT(html, Contains("<td>2 *</td>"));
  CHECK_THAT(html, Contains("attention entropy per head"));

  // Evaluation: a heatmap per NIAH task and model, curves, the multiple-choice table, the
  // unknown and the malformed task as generic tables.
  CHECK_THAT(html, Contains("<title>niah: teacher</title>"));
  CHECK_THAT(html, Contains("<title>niah: student</title>"));
  CHECK_THAT(html, Contains("<title>niah-multikey: student</title>"));
  CHECK_THAT(html, Contains("<title>passkey: accuracy by context length</title>"));
  CHECK_THAT(html, Contains("<title>kv: accuracy by context length</title>"));
  CHECK_THAT(html, Contains("<title>ppl-by-position: mean loss by token position</title>"));
  CHECK_THAT(html, Contains("training length"));
  CHECK_THAT(
      html, Contains("<td class=\"text\">mc:tiny-arc</td><td>20</td><td class=\"text\">teacher</td>"
                     "<td>0.300</td><td>0.350</td>"));
  CHECK_THAT(html, Contains("<h3 id=\"eval-future-task &lt;x&gt;\">future-task &lt;x&gt;</h3>"));
  CHECK_THAT(html, Contains("A task this report does not know"));
  CHECK_THAT(html, Contains("made by a newer eval"));
  CHECK_THAT(html, Contains("Not the shape this report reads (no &quot;lengths&quot; list)"));
  CHECK_THAT(html, Contains(">0.75<"));  // a NIAH cell
  // Known tasks first, in a fixed order; the unknown after them.
  CHECK(html.find("id=\"eval-niah\"") < html.find("id=\"eval-passkey\""));
  CHECK(html.find("id=\"eval-ppl-by-position\"") < html.find("id=\"eval-future-task"));

  // Configuration as YAML.
  CHECK_THAT(html, Contains("    optimizer:\n      betas: [0.9, 0.95]\n      lr: 0.003\n"));
}

TEST_CASE("the report leaves out evaluation without results.json and says what is missing",
          "[report]") {
  Scratch s("minimal");
  // Only one stage's metrics: no pipeline.json, report.json or selection report.
  halo::test::write_file(s.path / "run" / "stage1" / "metrics.jsonl",
                         "{\"step\":1,\"loss\":0.5,\"lr\":0.001}\n");
  const fs::path out = write_html_report(s.path / "run", s.path / "out" / "r.html");
  CHECK(out == s.path / "out" / "r.html");
  std::ifstream in(out);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(halo::test::xml_problem(html).empty());
  CHECK_THAT(html, !Contains("id=\"eval\""));
  CHECK_THAT(html, Contains("No quality gate entries"));
  CHECK_THAT(html, Contains("No layer selection report"));
  CHECK_THAT(html, Contains("No RUN/pipeline.json"));
  CHECK(count_of(html, "<title>stage1: ") == 4);
  CHECK(count_of(html, ">no data<") == 2);  // grad norm and tokens/s were not logged
}

// Issue 17 item 2: a selection report with every method's ranking and the ties found shows them
// as a table and a list (the chosen method's finding in bold), not as raw JSON.
TEST_CASE("the HTML report shows the rankings side by side and the selection's findings",
          "[report]") {
  Scratch s("html-rankings");
  halo::test::write_sample_run(s.path / "run", false);
  auto j =
      nlohmann::json::parse(std::ifstream(s.path / "run" / "select" / "selection_report.json"));
  j["rankings"] = {{"entropy", {{"score", "-entropy"}, {"order", {1, 0, 3, 2}}, {"kept", {1}}}},
                   {"halo", {{"score", "importance"}, {"order", {0, 1, 2, 3}}, {"kept", {0}}}},
                   {"uniform", {{"score", ""}, {"order", {2, 0, 1, 3}}, {"kept", {2}}}}};
  j["findings"] = {{{"method", "halo"},
                    {"kind", "all_equal"},
                    {"layers", {0, 1, 2, 3}},
                    {"message", "halo: every layer has importance 0 (all zero)"}},
                   {{"method", "kl"},
                    {"kind", "tie_at_cut"},
                    {"layers", {0, 1}},
                    {"message", "kl: layers 0, 1 tie"}}};
  j["tie_break"] = "the lower layer index first (stable sort)";
  for (auto& layer : j["layers"]) layer["recall_std_error"] = 0.0;  // equal, but not a signal
  std::ofstream(s.path / "run" / "select" / "selection_report.json") << j.dump();
  const std::string html = render_html_report(read_run_folder(s.path / "run"), "now");
  CHECK(halo::test::xml_problem(html).empty());
  CHECK_THAT(html, Contains("<th>layer</th><th>entropy</th><th>halo</th><th>uniform</th>"));
  // Layer 1: second for entropy and kept by it, second for halo, not kept by uniform.
  CHECK_THAT(html, Contains("<td>1</td><td>1 *</td><td>2</td><td>-</td>"));
  CHECK_THAT(html, Contains("<td>2</td><td>4</td><td>3</td><td class=\"text\">*</td>"));
  CHECK_THAT(html, Contains("<li><b>halo: every layer has importance 0 (all zero)</b></li>"));
  CHECK_THAT(html, Contains("<li>kl: layers 0, 1 tie</li>"));
  CHECK_THAT(html, Contains("ties are broken by the lower layer index first"));
  CHECK_THAT(html, !Contains("<b>findings</b>"));  // not dumped as raw JSON as well
  CHECK_THAT(html, Contains("Every layer&#39;s standard error is 0."));
  CHECK_THAT(html, !Contains("<b>recall_std_error</b>: Every layer scores"));
}
