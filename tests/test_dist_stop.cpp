// A coordinated stop through the trainer's path (issue 21 item 6): stage 1 of the tiny pipeline
// runs as 2 worker processes started directly (torchrun variables, no `launch` to forward the
// signal), and a SIGTERM reaches rank 1 only. Both ranks stop at the same step, rank 0 writes
// that step's checkpoint, both exit 128 + 15 (rank 0 adopts the peer's signal and says so), and
// the same 2 processes started again resume from the checkpoint and finish. The stopped ranks
// also leave the group in order (DistContext's destructor runs with no exception in flight, issue
// 21 item 2), which the test sees in rank 0's rendezvous store. The deadlines only guard against
// hangs.
#include <catch2/catch.hpp>

#include "halo/checkpoint/checkpoint_store.h"
#include "halo/distributed/dist_context.h"
#include "halo/distributed/local_launcher.h"
#include "tests/child_process.h"
#include "tests/dist_run_metrics.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>
#include <thread>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// A client of the rendezvous store that rank 0 hosts on 127.0.0.1:port.
c10::intrusive_ptr<c10d::TCPStore> store_client(int port) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = false;
  o.waitWorkers = false;
  o.timeout = std::chrono::seconds(30);
  return c10::make_intrusive<c10d::TCPStore>("127.0.0.1", o);
}

// The store's count of ranks that left in order (distributed::kLeftKey), once it reaches
// `count`; nullopt if it did not within `guard` or the store went away (rank 0 exited).
std::optional<int64_t> wait_for_left_count(c10d::TCPStore& store, int64_t count,
                                           std::chrono::seconds guard) {
  const auto deadline = std::chrono::steady_clock::now() + guard;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      const int64_t left = store.add(distributed::kLeftKey, 0);
      if (left >= count) return left;
    } catch (const std::exception&) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("SIGTERM to one training rank stops both at the same step with one checkpoint",
          "[dist][pipeline][stop]") {
  test::TempDir dir("halo-dist-stop");
  // Also (issue 21 item 6): the checkpoint is consistent (the metrics hold exactly the steps
  // before it, no final model), and the resumed run is bit for bit an uninterrupted 2-process run
  // of the stage: the same per-step losses and batches, validation loss and final weight files.
  auto tiny = test::make_tiny_pipeline(dir.str() + "/tiny");
  const std::string yaml = tiny.write_pipeline("stop", "stop");
  const std::vector<std::string> set{"--set", "stages.align.batch_size=6"};
  const std::string ref = tiny.write_pipeline("ref", "ref");
  auto teacher = test::run_cli("stage pretrain " + yaml);
  INFO(teacher.output);
  REQUIRE(teacher.exit_code == 0);
  // The uninterrupted reference: the same stage on 2 processes, from the same teacher (out_dir is
  // not part of the stage hash, so the copy counts as the reference run's pretrain stage).
  fs::create_directories(dir.path() / "tiny/ref");
  fs::copy(dir.path() / "tiny/stop/pretrain", dir.path() / "tiny/ref/pretrain",
           fs::copy_options::recursive);
  {
    std::string set_args;
    for (const auto& s : set) set_args += " " + s;
    auto reference = test::run_cli("launch --nproc-per-node 2 -- stage align " + ref + set_args);
    INFO(reference.output);
    REQUIRE(reference.exit_code == 0);
  }
  const fs::path stage_dir = dir.path() / "tiny/stop/align";
  std::vector<std::string> args{"stage", "align", yaml};
  args.insert(args.end(), set.begin(), set.end());

  int64_t stopped = 0;
  {
    const int port = distributed::find_free_port();
    test::Child r0(args, test::rank_env(0, 2, port), dir.str() + "/rank0.log");
    test::Child r1(args, test::rank_env(1, 2, port), dir.str() + "/rank1.log");
    test::wait_for_loss_lines(stage_dir / "metrics.jsonl", 3, std::chrono::seconds(300));
    // The test takes one off the count of ranks that left, so the count cannot reach the world
    // size: rank 0, in its orderly leave, then waits for the all-left key until the test sets it.
    auto rendezvous = store_client(port);
    rendezvous->add(distributed::kLeftKey, -1);
    r1.signal(SIGTERM);
    auto s1 = r1.wait(std::chrono::seconds(300));
    // Both ranks left in order (-1 + 2); a rank that unwound its DistContext under an exception
    // (the stop once threw its exit code through it) does not count itself, and rank 0 then
    // exits at once, taking the store with it.
    const auto left = wait_for_left_count(*rendezvous, 1, std::chrono::seconds(300));
    INFO("rank 0:\n" << r0.log() << "\nrank 1:\n" << r1.log());
    CHECK(left.value_or(-1) == 1);
    auto s0 = r0.wait(std::chrono::seconds(1));
    CHECK_FALSE(s0.has_value());  // still keeping its store
    try {
      rendezvous->set(distributed::kAllLeftKey, std::vector<uint8_t>{1});
    } catch (const std::exception&) {
      // Rank 0 is already gone (the failure above says why).
    }
    rendezvous.reset();
    if (!s0) s0 = r0.wait(std::chrono::seconds(300));
    REQUIRE(s0.has_value());
    REQUIRE(s1.has_value());
    CHECK(test::exit_code(*s0) == 128 + SIGTERM);
    CHECK(test::exit_code(*s1) == 128 + SIGTERM);

    checkpoint::CheckpointStore store(stage_dir / "checkpoints", 2);
    REQUIRE(!store.complete_steps().empty());
    stopped = store.complete_steps().back();
    REQUIRE(stopped >= 3);
    REQUIRE(stopped < 8);  // a step is left for the resumed run
    const std::string at = "checkpoint of step " + std::to_string(stopped) + " written, stopping";
    CHECK_THAT(r1.log(), Contains("signal 15: " + at));
    CHECK_THAT(r0.log(), Contains("signal 15 (received by another rank): " + at));
    // Consistent: no rank went past the checkpoint's step, and no final model was written.
    CHECK(test::read_step_records(stage_dir / "metrics.jsonl").size() ==
          static_cast<size_t>(stopped));
    CHECK_FALSE(fs::exists(stage_dir / "final"));
    CHECK_FALSE(fs::exists(stage_dir / "done.json"));
  }

  // The same two workers started again resume from that checkpoint and finish the stage.
  const int port = distributed::find_free_port();
  test::Child r0(args, test::rank_env(0, 2, port), dir.str() + "/rank0-resume.log");
  test::Child r1(args, test::rank_env(1, 2, port), dir.str() + "/rank1-resume.log");
  auto s0 = r0.wait(std::chrono::seconds(300));
  auto s1 = r1.wait(std::chrono::seconds(300));
  INFO("rank 0:\n" << r0.log() << "\nrank 1:\n" << r1.log());
  REQUIRE(s0.has_value());
  REQUIRE(s1.has_value());
  CHECK(test::exit_code(*s0) == 0);
  CHECK(test::exit_code(*s1) == 0);
  CHECK_THAT(r0.log(), Contains("(step " + std::to_string(stopped) + ")"));

  // Bit for bit the uninterrupted run: per-step losses and batches, validation loss, weights.
  const fs::path ref_dir = dir.path() / "tiny/ref/align";
  const auto a = test::read_step_records(ref_dir / "metrics.jsonl");
  const auto b = test::read_step_records(stage_dir / "metrics.jsonl");
  REQUIRE(a.size() == 8u);
  REQUIRE(b.size() == a.size());
  for (const auto& [step, rec] : a) {
    INFO("step " << step << " (stopped after " << stopped << "): uninterrupted " << rec.loss
                 << ", stopped and resumed " << b.at(step).loss);
    CHECK(b.at(step).loss == rec.loss);  // exact
    CHECK(b.at(step).batch_hash == rec.batch_hash);
  }
  CHECK(test::read_val_losses(stage_dir / "metrics.jsonl") ==
        test::read_val_losses(ref_dir / "metrics.jsonl"));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(ref_dir / "final")) {
    INFO(e.path().filename());
    REQUIRE(fs::exists(stage_dir / "final" / e.path().filename()));
    CHECK(test::read_file(e.path().string()) ==
          test::read_file((stage_dir / "final" / e.path().filename()).string()));
    ++files;
  }
  CHECK(files >= 2);  // config.json and the weights
}
