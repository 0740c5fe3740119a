// Data parallelism in the real pipeline (issue 6 acceptance, CPU): the tiny pipeline's training
// stages run as 2 processes over Gloo (`halo-distill launch --nproc-per-node 2 -- stage ...`)
// log the same per-step losses as 1 process with the same global batch (relative 1e-5; stage 2
// on the scale of the terms its KL cancels, see below) and read the same global batches (equal
// batch fingerprints): pretrain, stage 1 (align), stage 2 (distill), with the selection stage
// between, and stage 3 (long: the length curriculum, with activation checkpointing, whose
// recomputing backward runs inside the overlapped gradient all-reduce); and the other rank waits
// for rank 0's quality gate, bounded by quality_gate.timeout_s.
#include <catch2/catch.hpp>

#include "tests/child_process.h"
#include "tests/dist_run_metrics.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

TEST_CASE("2 processes over Gloo log the per-step losses of 1 process, stages 1 to 3",
          "[dist][pipeline]") {
  test::TempDir dir("halo-dist-pipeline");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string one = tiny.write_pipeline("one", "run1");
  const std::string two = tiny.write_pipeline("two", "run2");
  const std::string set = " --set stages.long.activation_checkpointing=true";
  for (const std::string stage : {"pretrain", "align", "select", "distill", "long"}) {
    auto r1 = test::run_cli("stage " + stage + " " + one + set);
    INFO(r1.output);
    REQUIRE(r1.exit_code == 0);
    // Stage 1 of the 2-process run also runs rank 0's quality gate (not part of the stage hash;
    // the other rank waits for it after the stage).
    const std::string gate =
        stage == "align" ? " --set quality_gate.enabled=true --set quality_gate.seq_len=32" : "";
    auto r2 = test::run_cli("launch --nproc-per-node 2 -- stage " + stage + " " + two + set + gate);
    INFO(r2.output);
    REQUIRE(r2.exit_code == 0);
    if (stage == "select") continue;
    auto a = test::read_step_records(dir.path() / "tiny/run1" / stage / "metrics.jsonl");
    auto b = test::read_step_records(dir.path() / "tiny/run2" / stage / "metrics.jsonl");
    REQUIRE(a.size() == 8u + (stage == "pretrain" ? 2u : 0u));
    REQUIRE(b.size() == a.size());
    // The scale of a loss difference. Pretrain's cross-entropy and stage 1's alignment loss are
    // compared relative to themselves. Stage 2's loss is KL(p_t || p_s) = H(p_t, p_s) - H(p_t),
    // a few 1e-3 here against a teacher entropy H(p_t) near 5 nats: a difference of two large
    // terms. The 2-process run is not bitwise the 1-process run: its gradients are sums of two
    // half-batch sums (float32, another order), and training carries that round-off into the
    // weights. A weight change moves the KL exactly as much as the cross-entropy H(p_t, p_s) (the
    // teacher entropy does not depend on the student), so its effect belongs on the scale of
    // H(p_t, p_s) = KL + H(p_t), as the cross-entropy of pretraining is compared on its own.
    // Measured on the 2-core dev machine (2026-11-28): the largest pretrain |difference| is
    // 6.0e-7 on losses near 5 (relative 1.1e-7); stage 2 step 4 logs 0.00909416 against
    // 0.00909407 (|difference| 9.5e-8, relative 1.04e-5 of the KL, 1.8e-8 of KL + H(p_t) with
    // H(p_t) = 5.2). Started from the same stage-2 inputs (the 1-process stage 1 and selection
    // outputs), the two runs log bitwise the same step-1 loss, so the forward and the loss
    // normalisation are exact, and differ later by at most 2.6e-8 (relative 5.8e-6 of the KL):
    // accumulating the KL in float64 would not remove a difference that comes from the weights.
    double scale = 0;
    if (stage == "distill") {
      scale = test::teacher_entropy(one, {"stages.long.activation_checkpointing=true"}, stage,
                                    dir.path() / "tiny/run1/pretrain/final");
      INFO("teacher entropy " << scale);
      REQUIRE(scale > 1.0);
    }
    for (const auto& [step, rec] : a) {
      INFO(stage << " step " << step << ": 1 process " << rec.loss << ", 2 processes "
                 << b[step].loss << ", scale " << std::abs(rec.loss) + scale);
      CHECK(std::abs(b[step].loss - rec.loss) <= 1e-5 * (std::abs(rec.loss) + scale));
      CHECK(b[step].batch_hash == rec.batch_hash);
    }
  }

  // Rank 0's quality gates: the other ranks wait in a store barrier bounded by
  // quality_gate.timeout_s instead of a collective bounded by dist.timeout_s. Above, stage 1's
  // gate ran and the 2-process run went on. Without its report entry, the finished stage's gate
  // is caught up on the next run; with a 1 ms bound, rank 1 gives up waiting for it, naming the
  // key and rank 0.
  const fs::path report = dir.path() / "tiny/run2/report.json";
  const auto entries = nlohmann::json::parse(test::read_file(report.string()))["entries"];
  REQUIRE(entries.size() == 1u);
  CHECK(entries[0]["label"] == "align");
  fs::remove(report);
  auto late = test::run_cli("launch --nproc-per-node 2 -- stage align " + two +
                            " --set quality_gate.enabled=true --set quality_gate.seq_len=32"
                            " --set quality_gate.timeout_s=0.001");
  INFO(late.output);
  CHECK(late.exit_code == 1);
  CHECK_THAT(late.output, Contains("rank 1 of 2: waiting for rank 0's quality gate of \"align\"") &&
                              Contains("quality_gate.timeout_s=0.001") && Contains("rank 0"));
}
