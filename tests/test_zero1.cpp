// ZeRO-1 (dist.zero1, halo/train/zero1.h), CPU, Gloo. (1) 2 processes with dist.zero1=true log
// bitwise the per-step losses and batch fingerprints of 2 processes without it, stage 1 and
// stage 2 (every parameter's update is the unsharded AdamW's on the same all-reduced, clipped
// gradients; the owner broadcast copies it exactly). (2) A ZeRO-1 run stopped by SIGTERM writes
// the unsharded checkpoint format: resumed by 2 processes without ZeRO-1 it continues bitwise
// the uninterrupted run, resumed by 3 processes with ZeRO-1 within round-off of it, with the
// same batches. (3) The partition covers every parameter once, in balanced contiguous ranges;
// each rank's optimizer holds state for its own range only; the full state loaded from a
// checkpoint splits into the ranks' shards.
#include <catch2/catch.hpp>

#include "halo/checkpoint/checkpoint_store.h"
#include "halo/train/adamw_groups.h"
#include "halo/train/zero1.h"
#include "tests/child_process.h"
#include "tests/dist_run_metrics.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <set>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

void require_cli(const std::string& args) {
  auto r = test::run_cli(args);
  INFO("halo-distill " << args << "\n" << r.output);
  REQUIRE(r.exit_code == 0);
}

}  // namespace

TEST_CASE("dist.zero1: 2 processes log bitwise the losses of 2 processes without it",
          "[dist][pipeline][zero1]") {
  test::TempDir dir("halo-zero1");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string plain = tiny.write_pipeline("plain", "plain");
  const std::string zero = tiny.write_pipeline("zero", "zero");
  require_cli("stage pretrain " + plain);
  fs::create_directories(dir.path() / "tiny/zero");
  fs::copy(dir.path() / "tiny/plain/pretrain", dir.path() / "tiny/zero/pretrain",
           fs::copy_options::recursive);
  for (const std::string stage : {"align", "select", "distill"}) {
    if (stage == "select") {
      require_cli("stage select " + plain);
      require_cli("stage select " + zero);
      continue;
    }
    require_cli("launch --nproc-per-node 2 -- stage " + stage + " " + plain);
    auto z = test::run_cli("launch --nproc-per-node 2 -- stage " + stage + " " + zero +
                           " --set dist.zero1=true");
    INFO(z.output);
    REQUIRE(z.exit_code == 0);
    CHECK_THAT(z.output, Contains("[rank 0] [" + stage + "] zero1: rank 0 holds") &&
                             Contains("[rank 1] [" + stage + "] zero1: rank 1 holds"));
    auto a = test::read_step_records(dir.path() / "tiny/plain" / stage / "metrics.jsonl");
    auto b = test::read_step_records(dir.path() / "tiny/zero" / stage / "metrics.jsonl");
    REQUIRE(a.size() == 8u);
    REQUIRE(b.size() == a.size());
    for (const auto& [step, rec] : a) {
      INFO(stage << " step " << step << ": without " << rec.loss << ", with zero1 "
                 << b[step].loss);
      CHECK(b[step].loss == rec.loss);
      CHECK(b[step].batch_hash == rec.batch_hash);
    }
  }
}

TEST_CASE("dist.zero1: stopped by SIGTERM, resumed without it or by 3 processes",
          "[dist][pipeline][zero1][resume]") {
  test::TempDir dir("halo-zero1-resume");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string set = " --set stages.align.batch_size=6";
  const std::string ref = tiny.write_pipeline("ref", "ref");
  const std::string zero = tiny.write_pipeline("zero", "zero");
  const std::string z2 = tiny.write_pipeline("z2", "z2");
  const std::string z3 = tiny.write_pipeline("z3", "z3");
  require_cli("stage pretrain " + ref + set);
  for (const std::string out : {"zero", "z2", "z3"}) {
    fs::create_directories(dir.path() / "tiny" / out);
    fs::copy(dir.path() / "tiny/ref/pretrain", dir.path() / "tiny" / out / "pretrain",
             fs::copy_options::recursive);
  }
  // The uninterrupted reference: 2 processes without ZeRO-1.
  require_cli("launch --nproc-per-node 2 -- stage align " + ref + set);

  // 2 processes with ZeRO-1 until SIGTERM (sent once 3 steps are logged).
  const fs::path stage_dir = dir.path() / "tiny/zero/align";
  test::Child two({"launch", "--nproc-per-node", "2", "--", "stage", "align", zero, "--set",
                   "stages.align.batch_size=6", "--set", "dist.zero1=true"},
                  {}, dir.str() + "/zero.log");
  test::wait_for_loss_lines(stage_dir / "metrics.jsonl", 3, std::chrono::seconds(300));
  two.signal(SIGTERM);
  auto status = two.wait(std::chrono::seconds(300));
  INFO("2 processes, zero1:\n" << two.log());
  REQUIRE(status.has_value());
  REQUIRE(test::exit_code(*status) == 128 + SIGTERM);
  checkpoint::CheckpointStore store(stage_dir / "checkpoints", 2);
  REQUIRE(!store.complete_steps().empty());
  const int64_t stopped = store.complete_steps().back();
  REQUIRE(stopped >= 3);
  REQUIRE(stopped < 8);
  for (const std::string out : {"z2", "z3"}) {
    fs::copy(stage_dir, dir.path() / "tiny" / out / "align", fs::copy_options::recursive);
  }
  // Resumed by 2 processes without ZeRO-1, and by 3 with it.
  require_cli("launch --nproc-per-node 2 -- stage align " + z2 + set);
  auto three = test::run_cli("launch --nproc-per-node 3 -- stage align " + z3 + set +
                             " --set dist.zero1=true");
  INFO("3 processes, zero1:\n" << three.output);
  REQUIRE(three.exit_code == 0);
  CHECK_THAT(three.output, Contains("(step " + std::to_string(stopped) + ")") &&
                               Contains("[rank 2] [align] zero1: rank 2 holds"));

  auto a = test::read_step_records(dir.path() / "tiny/ref/align/metrics.jsonl");
  auto b2 = test::read_step_records(dir.path() / "tiny/z2/align/metrics.jsonl");
  auto b3 = test::read_step_records(dir.path() / "tiny/z3/align/metrics.jsonl");
  REQUIRE(a.size() == 8u);
  REQUIRE(b2.size() == a.size());
  REQUIRE(b3.size() == a.size());
  for (const auto& [step, rec] : a) {
    INFO(std::setprecision(9) << "step " << step << " (stopped at " << stopped
                              << "): uninterrupted " << rec.loss << ", resumed by 2 without zero1 "
                              << b2[step].loss << ", by 3 with zero1 " << b3[step].loss);
    CHECK(b2[step].loss == rec.loss);
    CHECK(b2[step].batch_hash == rec.batch_hash);
    // 3 processes sum the gradients of three third-batches: float32 round-off of the sum order.
    CHECK(std::abs(b3[step].loss - rec.loss) <= 1e-5 * std::abs(rec.loss));
    CHECK(b3[step].batch_hash == rec.batch_hash);
    if (step <= stopped) CHECK(b3[step].loss == rec.loss);
  }
}

TEST_CASE("dist.zero1: the ranges cover every parameter once, each shard holds its own state",
          "[zero1][train]") {
  // Element counts with one dominant tensor and 1-D ones, as in a model.
  const std::vector<int64_t> numels{12, 3, 40, 5, 5, 64, 2, 9, 30};
  for (int world : {1, 2, 3, 4, 7, 12}) {
    INFO("world " << world);
    auto ranges = train::partition_by_numel(numels, world);
    REQUIRE(ranges.size() == static_cast<size_t>(world));
    size_t next = 0;
    for (const auto& r : ranges) {
      CHECK(r.begin == next);  // contiguous, in order, no overlap
      CHECK(r.end >= r.begin);
      next = r.end;
    }
    CHECK(next == numels.size());
  }
  {
    // Balanced: with equal tensors each of 4 ranks gets 3 of 12.
    auto ranges = train::partition_by_numel(std::vector<int64_t>(12, 7), 4);
    for (const auto& r : ranges) CHECK(r.size() == 3u);
    // Each boundary is the one nearest the target share: {12,3,40,5,5 | 64,...} for 2 ranks
    // (target 85 of 170 elements: after 5 tensors 65, 20 short; after 6, 129, 44 over).
    auto two = train::partition_by_numel(numels, 2);
    CHECK(two[0].end == 5u);
  }

  torch::manual_seed(3);
  std::vector<std::pair<std::string, at::Tensor>> params;
  std::vector<at::Tensor> tensors;
  for (size_t i = 0; i < numels.size(); ++i) {
    auto p = (i % 3 == 0 ? torch::randn({numels[i]}) : torch::randn({1, numels[i]}))
                 .requires_grad_(true);
    params.emplace_back("p" + std::to_string(i), p);
    tensors.push_back(p);
  }
  config::OptimizerConfig oc;
  for (auto& p : tensors) p.mutable_grad() = torch::randn_like(p);
  auto full = train::make_adamw(params, oc);
  full->step();
  REQUIRE(full->state().size() == numels.size());
  for (int world : {2, 3}) {
    auto ranges = train::partition_by_numel(numels, world);
    std::set<void*> seen;
    for (int r = 0; r < world; ++r) {
      INFO("world " << world << " rank " << r);
      auto shard = train::make_shard_adamw(params, ranges[r], oc);
      REQUIRE(shard != nullptr);
      // A step gives state to the shard's own parameters only.
      shard->step();
      std::set<void*> own;
      for (size_t i = ranges[r].begin; i < ranges[r].end; ++i) {
        own.insert(tensors[i].unsafeGetTensorImpl());
      }
      CHECK(shard->state().size() == own.size());
      for (const auto& [key, st] : shard->state()) CHECK(own.count(key) == 1u);
      // The state of a full optimizer (a checkpoint) split into the shard: its own range only.
      auto copy = train::make_adamw(params, oc);
      for (size_t i = 0; i < tensors.size(); ++i) {
        void* key = tensors[i].unsafeGetTensorImpl();
        copy->state()[key] = full->state().at(key)->clone();
      }
      auto fresh = train::make_shard_adamw(params, ranges[r], oc);
      train::keep_own_state(*copy, *fresh, tensors, ranges[r]);
      CHECK(fresh->state().size() == own.size());
      for (const auto& [key, st] : fresh->state()) {
        CHECK(own.count(key) == 1u);
        CHECK(seen.insert(key).second);  // no parameter in two shards
        auto& a = static_cast<torch::optim::AdamWParamState&>(*st);
        auto& b = static_cast<torch::optim::AdamWParamState&>(*full->state().at(key));
        CHECK(a.step() == b.step());
        CHECK(torch::equal(a.exp_avg(), b.exp_avg()));
        CHECK(torch::equal(a.exp_avg_sq(), b.exp_avg_sq()));
      }
    }
    CHECK(seen.size() == numels.size());  // every parameter in some shard
  }
}
