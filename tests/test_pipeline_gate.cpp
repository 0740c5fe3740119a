// Quality gates that gate (issue 19 item 5), end to end through the CLI on the tiny pipeline: a
// threshold in quality_gate.thresholds that the gated stage misses stops `run` with exit 1 and a
// message naming the metric, its value and the threshold's key, before the next stage; a run
// again checks the same entry, and a met threshold lets the pipeline go on. Without thresholds
// the gate prints its table and says "not gated", and the run succeeds.
#include <catch2/catch.hpp>

#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <filesystem>
#include <string>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {
// The gate on, over short validation sequences (the tiny model's context).
const std::string kGateOn = " --set quality_gate.enabled=true --set quality_gate.seq_len=32";
}  // namespace

TEST_CASE("a missed quality gate threshold stops the run with exit 1", "[pipeline][gate]") {
  test::TempDir dir("halo-gate-missed");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  const fs::path out = dir.path() / "fixture" / "out";
  const std::string gated = "run " + yaml + kGateOn + " --set quality_gate.thresholds.stage=align";

  auto r = test::run_cli(gated + " --set quality_gate.thresholds.max_loss_ratio=0.01");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("quality gate of stage \"align\" missed its thresholds; the "
                                "pipeline stops here"));
  CHECK_THAT(r.output, Contains("quality_gate.thresholds.max_loss_ratio requires <= 0.01"));
  CHECK_THAT(r.output, Contains("validation loss / teacher's"));
  CHECK_THAT(r.output, Contains("MISSED"));
  CHECK_THAT(r.output, !Contains("[select]"));  // the next stage never started
  CHECK(fs::exists(out / "align" / "done.json"));
  CHECK_FALSE(fs::exists(out / "select"));

  // A run again checks the same entry, without training or evaluating again.
  auto again = test::run_cli(gated + " --set quality_gate.thresholds.max_loss_ratio=0.01");
  INFO(again.output);
  CHECK(again.exit_code == 1);
  CHECK_THAT(again.output, Contains("quality_gate.thresholds.max_loss_ratio requires <= 0.01"));
  CHECK_THAT(again.output, !Contains("stage starting"));

  // A threshold the student meets lets the pipeline go on.
  auto met = test::run_cli(gated + " --set quality_gate.thresholds.max_loss_ratio=100");
  INFO(met.output);
  CHECK(met.exit_code == 0);
  CHECK(fs::exists(out / "long" / "done.json"));
}

TEST_CASE("without thresholds the gate prints a table, says \"not gated\" and the run succeeds",
          "[pipeline][gate]") {
  test::TempDir dir("halo-gate-none");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("p", "out");
  auto r = test::run_cli("run " + yaml + kGateOn);
  INFO(r.output);
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.output, Contains("not gated (no quality_gate.thresholds set)"));
  CHECK_THAT(r.output, Contains("[align] quality gate ("));
  CHECK_THAT(r.output, Contains("metric"));
  CHECK_THAT(r.output, Contains("validation loss / teacher's"));
  CHECK_THAT(r.output, Contains("next-token accuracy"));
  CHECK_THAT(r.output, !Contains("\"validation\":"));  // a table, not the JSON entry
  CHECK(fs::exists(dir.path() / "fixture" / "out" / "long" / "done.json"));
}
