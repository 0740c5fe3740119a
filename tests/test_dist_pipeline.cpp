// Data parallelism in the real pipeline (issue 6 acceptance, CPU): the tiny pipeline's training
// stages run as 2 processes over Gloo (`halo-distill launch --nproc-per-node 2 -- stage ...`)
// log the same per-step losses as 1 process with the same global batch (relative 1e-5):
// pretrain, stage 1 (align) and stage 2 (distill), with the selection stage between.
#include <catch2/catch.hpp>

#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

using namespace halo;
namespace fs = std::filesystem;

namespace {

std::map<int64_t, double> losses(const fs::path& metrics) {
  std::map<int64_t, double> out;
  std::ifstream in(metrics);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) out[j["step"].get<int64_t>()] = j["loss"].get<double>();
  }
  return out;
}

}  // namespace

TEST_CASE("2 processes over Gloo log the per-step losses of 1 process, stage 1 and stage 2",
          "[.][dist][pipeline]") {
  test::TempDir dir("halo-dist-pipeline");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string one = tiny.write_pipeline("one", "run1");
  const std::string two = tiny.write_pipeline("two", "run2");
  for (const std::string stage : {"pretrain", "align", "select", "distill"}) {
    auto r1 = test::run_cli("stage " + stage + " " + one);
    INFO(r1.output);
    REQUIRE(r1.exit_code == 0);
    auto r2 = test::run_cli("launch --nproc-per-node 2 -- stage " + stage + " " + two);
    INFO(r2.output);
    REQUIRE(r2.exit_code == 0);
    if (stage == "select") continue;
    auto a = losses(dir.path() / "tiny/run1" / stage / "metrics.jsonl");
    auto b = losses(dir.path() / "tiny/run2" / stage / "metrics.jsonl");
    REQUIRE(a.size() == 8u + (stage == "pretrain" ? 2u : 0u));
    REQUIRE(b.size() == a.size());
    for (const auto& [step, loss] : a) {
      INFO(stage << " step " << step << ": 1 process " << loss << ", 2 processes " << b[step]);
      CHECK(std::abs(b[step] - loss) <= 1e-5 * std::abs(loss));
    }
  }
}
