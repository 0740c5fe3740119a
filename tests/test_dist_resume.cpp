// Resume across world sizes (issue 6 acceptance, CPU, Gloo): stage 1 and stage 2 of the tiny
// pipeline run as 2 processes until a SIGTERM to `launch` stops them (every rank at the same
// step, rank 0 writes the checkpoint), then 3 processes resume from that checkpoint to the end.
// The stage's per-step losses, before and after the resume, match an uninterrupted 1-process run
// of the same global batch (6 sequences, divisible by 1, 2 and 3), relative 1e-5 (stage 2 on the
// scale of the terms its KL cancels, as in test_dist_pipeline.cpp), and every step's batch
// fingerprint equals the 1-process run's: the resumed run continues the same global batch
// sequence exactly. Processes: tests/child_process.h; the deadlines only guard against hangs.
#include <catch2/catch.hpp>

#include "halo/checkpoint/checkpoint_store.h"
#include "tests/child_process.h"
#include "tests/dist_run_metrics.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("2 processes stopped by SIGTERM, resumed by 3: the losses and batches of 1 process",
          "[dist][pipeline][resume]") {
  test::TempDir dir("halo-dist-resume");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string ref = tiny.write_pipeline("ref", "ref");
  const std::string dp = tiny.write_pipeline("dp", "dp");
  const std::vector<std::string> overrides{"stages.align.batch_size=6",
                                           "stages.distill.batch_size=6"};
  std::string set;
  for (const auto& o : overrides) set += " --set " + o;

  // The uninterrupted 1-process reference. Its teacher serves both runs (out_dir is not part of
  // the stage hash, so the copy counts as the data-parallel run's finished pretrain stage).
  for (const std::string stage : {"pretrain", "align", "select", "distill"}) {
    auto r = test::run_cli("stage " + stage + " " + ref + set);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
  }
  fs::create_directories(dir.path() / "tiny/dp");
  fs::copy(dir.path() / "tiny/ref/pretrain", dir.path() / "tiny/dp/pretrain",
           fs::copy_options::recursive);

  for (const std::string stage : {"align", "select", "distill"}) {
    const fs::path stage_dir = dir.path() / "tiny/dp" / stage;
    if (stage == "select") {
      auto r = test::run_cli("stage select " + dp + set);
      INFO(r.output);
      REQUIRE(r.exit_code == 0);
      continue;
    }
    // 2 processes until SIGTERM (sent once 3 steps are logged).
    const std::string log2 = dir.str() + "/" + stage + "-2.log";
    std::vector<std::string> args{"launch", "--nproc-per-node", "2", "--", "stage", stage, dp};
    for (const auto& o : overrides) args.insert(args.end(), {"--set", o});
    test::Child two(args, {}, log2);
    test::wait_for_loss_lines(stage_dir / "metrics.jsonl", 3, std::chrono::seconds(300));
    two.signal(SIGTERM);
    auto status = two.wait(std::chrono::seconds(300));
    INFO(stage << ", 2 processes:\n" << two.log());
    REQUIRE(status.has_value());
    REQUIRE(test::exit_code(*status) == 128 + SIGTERM);
    checkpoint::CheckpointStore store(stage_dir / "checkpoints", 2);
    REQUIRE(!store.complete_steps().empty());
    const int64_t stopped = store.complete_steps().back();
    REQUIRE(stopped >= 3);
    REQUIRE(stopped < 8);  // a step is left for the 3 processes
    CHECK_THAT(two.log(), Contains("checkpoint of step " + std::to_string(stopped)));

    // 3 processes resume from it.
    auto three = test::run_cli("launch --nproc-per-node 3 -- stage " + stage + " " + dp + set);
    INFO(stage << ", 3 processes:\n" << three.output);
    REQUIRE(three.exit_code == 0);
    CHECK_THAT(three.output,
               Contains("[rank 2]") && Contains("(step " + std::to_string(stopped) + ")"));

    auto a = test::read_step_records(dir.path() / "tiny/ref" / stage / "metrics.jsonl");
    auto b = test::read_step_records(stage_dir / "metrics.jsonl");
    REQUIRE(a.size() == 8u);
    REQUIRE(b.size() == a.size());
    const double scale =
        stage == "distill"
            ? test::teacher_entropy(ref, overrides, stage, dir.path() / "tiny/ref/pretrain/final")
            : 0.0;
    for (const auto& [step, rec] : a) {
      INFO(stage << " step " << step << " (" << (step <= stopped ? 2 : 3)
                 << " processes): 1 process " << rec.loss << ", data parallel " << b[step].loss
                 << ", scale " << std::abs(rec.loss) + scale);
      CHECK(std::abs(b[step].loss - rec.loss) <= 1e-5 * (std::abs(rec.loss) + scale));
      CHECK(b[step].batch_hash == rec.batch_hash);
    }
  }
}
