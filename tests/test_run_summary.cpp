// RUN/summary.md (issue 19 item 6): each stage's loss is labelled by what it measures, the
// selection row names the kept layers, and a passkey column that is 0 for every model, the
// teacher included, gets its one-line explanation (and no such line when a model retrieves).
#include <catch2/catch.hpp>

#include "halo/config/pipeline_config.h"
#include "halo/stages/run_summary.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// One line of the summary's stage table: the row of `stage`.
std::string row_of(const std::string& md, const std::string& stage) {
  const auto at = md.find("| " + stage + " |");
  REQUIRE(at != std::string::npos);
  return md.substr(at, md.find('\n', at) - at);
}

nlohmann::json gate_entry(const std::string& label, double loss, double passkey,
                          double accuracy = 0.25) {
  return {{"label", label},
          {"validation", {{"loss", loss}, {"accuracy", accuracy}}},
          {"passkey", {{{"context_length", 128}, {"accuracy", passkey}}}}};
}

}  // namespace

TEST_CASE("the run summary labels each loss by what it measures", "[pipeline][summary]") {
  test::TempDir dir("halo-summary");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string yaml = tiny.write_pipeline("sum", "sum");
  auto r = test::run_cli("run " + yaml);
  INFO(r.output);
  REQUIRE(r.exit_code == 0);
  const auto p = config::load_pipeline_config(yaml, {"quality_gate.passkey_lengths=[128]"});
  const std::string md = stages::render_run_summary(p);
  INFO(md);
  // Printed once by `run` (the table's header appears once in its output).
  const std::string header = "| stage | kind | steps | loss (what it measures)";
  CHECK(r.output.find(header) != std::string::npos);
  CHECK(r.output.find(header) == r.output.rfind(header));

  CHECK_THAT(row_of(md, "pretrain"), Contains("next-token cross-entropy, nats/token"));
  CHECK_THAT(row_of(md, "align"), Contains("hidden-state alignment (l2norm)"));
  CHECK_THAT(row_of(md, "distill"), Contains("KL(teacher || student), nats/token"));
  CHECK_THAT(row_of(md, "long"), Contains("next-token cross-entropy, nats/token"));
  CHECK_THAT(row_of(md, "select"), Contains("kept as attention: layers ") && Contains("(uniform)"));
  {
    // A selection whose own scores tied (the selection report's findings) says so.
    const fs::path sel = dir.path() / "tiny/sum/select/selection_report.json";
    std::ifstream in(sel);
    auto j = nlohmann::json::parse(in);
    const bool tied_before = row_of(md, "select").find("its scores tie") != std::string::npos;
    CHECK(tied_before == false);
    j["findings"] = {{{"method", j.value("method", "")},
                      {"kind", "all_equal"},
                      {"message", "every layer scores 0"}}};
    j["tie_break"] = "the lower layer index first";
    std::ofstream(sel) << j.dump();
    CHECK_THAT(row_of(stages::render_run_summary(p), "select"),
               Contains("its scores tie (1 finding in selection_report.txt), broken by the lower "
                        "layer index first"));
  }
  CHECK(md.find("Quality gate") == std::string::npos);  // no gate ran

  const fs::path report = dir.path() / "tiny/sum/report.json";
  SECTION("passkey 0 for every model, the teacher included, is explained") {
    std::ofstream(report) << nlohmann::json{{"entries",
                                             {gate_entry("teacher", 2.0, 0.0),
                                              gate_entry("distill", 2.5, 0.0)}}}
                                 .dump();
    const std::string g = stages::render_run_summary(p);
    INFO(g);
    CHECK_THAT(g, Contains("| model | validation cross-entropy (nats/token) |"));
    CHECK_THAT(g, Contains("2.5000 / 2.0000 = 1.250"));
    CHECK_THAT(g, Contains("passkey is 0 for every model, the teacher included"));
    CHECK_THAT(g, !Contains("what these numbers can and cannot show"));  // accuracy 0.25
  }
  SECTION("a teacher below 25% next-token accuracy: what the ratio can and cannot show") {
    // The pretrain stage's entry is the teacher when there is no "teacher" entry.
    std::ofstream(report) << nlohmann::json{{"entries",
                                             {gate_entry("pretrain", 5.49, 0.0, 0.0896),
                                              gate_entry("distill", 5.51, 0.0, 0.3)}}}
                                 .dump();
    const std::string g = stages::render_run_summary(p);
    INFO(g);
    CHECK_THAT(g, Contains("what these numbers can and cannot show: the teacher predicts the "
                           "next token 9.0% of the time (below 25%"));
    CHECK_THAT(g, Contains("not that a conversion keeps what a trained teacher knows"));
  }
  SECTION("a teacher entry is preferred to the pretrain stage's") {
    const nlohmann::json entries = {gate_entry("pretrain", 5.49, 0.0, 0.0896),
                                    gate_entry("teacher", 2.0, 0.0, 0.41),
                                    gate_entry("distill", 2.1, 0.0)};
    std::ofstream(report) << nlohmann::json{{"entries", entries}}.dump();
    CHECK_THAT(stages::render_run_summary(p), !Contains("what these numbers"));
  }
  SECTION("no explanation when a model retrieves") {
    std::ofstream(report) << nlohmann::json{{"entries",
                                             {gate_entry("teacher", 2.0, 0.5),
                                              gate_entry("distill", 2.5, 0.0)}}}
                                 .dump();
    CHECK_THAT(stages::render_run_summary(p), !Contains("passkey is 0"));
  }
}
