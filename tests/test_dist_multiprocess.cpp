// halo/distributed across processes (CPU, Gloo, loopback): workers of the tests'
// halo-dist-selftest (`dist-selftest`, which left the product binary) started by its `launch`
// (halo-distill's launcher, tools/cmd_launch.cpp) or directly with the torchrun variables. A
// 2-process bucketed gradient all-reduce (with accumulation) equals the 1-process gradient of the
// same global batch; a killed or hung rank ends its peer with an error naming it; launch propagates
// the first failure and forwards SIGTERM; a SIGTERM to one rank stops all ranks at the same step.
// The deadlines below only guard against hangs (a failing test must not block CI); they are
// many times the configured collective timeouts and are not measurements. Child processes:
// tests/child_process.h.
#include <catch2/catch.hpp>

#include "halo/distributed/local_launcher.h"
#include "tests/child_process.h"
#include "tests/test_util.h"

#include <torch/torch.h>

#include <chrono>
#include <csignal>

using namespace halo;
using namespace halo::test;
using Catch::Matchers::Contains;

namespace {

// `halo-dist-selftest ARGS` (launch and dist-selftest), output and exit code.
test::CliResult run_selftest(const std::string& args) {
  return test::run_program(test::dist_selftest_binary(), args);
}

std::vector<at::Tensor> load_tensors(const std::string& path) {
  std::vector<at::Tensor> v;
  torch::load(v, path);
  return v;
}

}  // namespace

TEST_CASE("2-process bucketed all-reduce equals the 1-process gradient of the global batch",
          "[dist][multiprocess]") {
  test::TempDir dir("halo-dist");
  const std::string out = dir.str();
  // overlap: buckets reduced during backward (c10d Reducer); after: reduced after backward.
  const std::string mode = GENERATE(std::string("overlap"), std::string("after"));
  const std::string common = " -- dist-selftest grads --out " + out + " --mode " + mode +
                             " --global-batch 12 --micro-steps 2 --steps 2";
  auto two = run_selftest("launch --nproc-per-node 2" + common);
  INFO(two.output);
  REQUIRE(two.exit_code == 0);
  CHECK_THAT(two.output, Contains("[rank 1] dist-selftest: rank 1 wrote"));
  auto one = run_selftest("launch --nproc-per-node 1" + common);
  INFO(one.output);
  REQUIRE(one.exit_code == 0);

  for (int step = 0; step < 2; ++step) {
    const std::string s = "-step" + std::to_string(step) + ".pt";
    auto reference = load_tensors(out + "/reference" + s);
    auto single = load_tensors(out + "/grads-" + mode + "-world1-rank0" + s);
    REQUIRE(reference.size() == 8);  // 4 Linear layers: weight and bias
    for (int rank = 0; rank < 2; ++rank) {
      auto synced =
          load_tensors(out + "/grads-" + mode + "-world2-rank" + std::to_string(rank) + s);
      REQUIRE(synced.size() == reference.size());
      for (size_t i = 0; i < reference.size(); ++i) {
        INFO(mode << " step " << step << " rank " << rank << " parameter " << i);
        CHECK(test::max_rel_error(synced[i], reference[i]) < 1e-5);
        CHECK(test::max_rel_error(synced[i], single[i]) < 1e-5);
      }
    }
  }
}

TEST_CASE("3 processes: all-reduce, mean, broadcast and barrier agree", "[dist][multiprocess]") {
  auto r = run_selftest("launch --nproc-per-node 3 -- dist-selftest collectives --steps 20");
  INFO(r.output);
  CHECK(r.exit_code == 0);
  for (int rank = 0; rank < 3; ++rank) {
    CHECK_THAT(r.output, Contains("[rank " + std::to_string(rank) + "] dist-selftest: rank " +
                                  std::to_string(rank) + " done, 20 all_reduces"));
  }
}

TEST_CASE("a killed rank ends its peer with an error naming it", "[dist][multiprocess]") {
  test::TempDir dir("halo-dist");
  const int port = distributed::find_free_port();
  const std::vector<std::string> args{
      "dist-selftest", "collectives",        "--steps",     "1000000", "--sleep-ms",    "5",
      "--ready-file",  dir.str() + "/ready", "--timeout-s", "5",       "--heartbeat-s", "0.2"};
  Child r0(args, rank_env(0, 2, port), dir.str() + "/rank0.log", dist_selftest_binary());
  Child r1(args, rank_env(1, 2, port), dir.str() + "/rank1.log", dist_selftest_binary());
  REQUIRE(wait_for_file(dir.str() + "/ready.1", std::chrono::seconds(60)));

  SECTION("SIGKILL rank 1") {
    r1.signal(SIGKILL);
    auto status = r0.wait(std::chrono::seconds(60));
    INFO(r0.log());
    REQUIRE(status.has_value());
    CHECK(exit_code(*status) == 1);
    CHECK_THAT(r0.log(), Contains("rank 0 of 2: selftest all_reduce") &&
                             Contains("rank 1 stopped responding"));
  }
  SECTION("SIGKILL rank 0, the host of the rendezvous store") {
    r0.signal(SIGKILL);
    auto status = r1.wait(std::chrono::seconds(60));
    INFO(r1.log());
    REQUIRE(status.has_value());
    CHECK(exit_code(*status) == 1);
    CHECK_THAT(r1.log(), Contains("rank 1 of 2") && Contains("rank 0 is unreachable"));
  }
}

TEST_CASE("a hung rank ends its peer after the collective timeout, naming it",
          "[dist][multiprocess]") {
  test::TempDir dir("halo-dist");
  const int port = distributed::find_free_port();
  const std::vector<std::string> args{"dist-selftest", "collectives", "--steps",       "1000000",
                                      "--hang-rank",   "1",           "--hang-after",  "20",
                                      "--timeout-s",   "5",           "--heartbeat-s", "0.2"};
  Child r0(args, rank_env(0, 2, port), dir.str() + "/rank0.log", dist_selftest_binary());
  Child r1(args, rank_env(1, 2, port), dir.str() + "/rank1.log", dist_selftest_binary());
  auto status = r0.wait(std::chrono::seconds(60));
  INFO(r0.log());
  REQUIRE(status.has_value());
  CHECK(exit_code(*status) == 1);
  CHECK_THAT(r0.log(), Contains("dist.timeout_s=5") &&
                           Contains("rank 1 is alive but hung: it has entered 20 collectives, "
                                    "this rank 21"));
  CHECK_THAT(r1.log(), Contains("rank 1 hangs at step 20"));
}

TEST_CASE("launch stops the other workers and reports the first failure", "[dist][multiprocess]") {
  auto r = run_selftest(
      "launch --nproc-per-node 2 --kill-grace-s 5 -- dist-selftest collectives --steps 1000000 "
      "--sleep-ms 5 --fail-rank 1 --fail-after 10 --message 'planted failure 42' "
      "--timeout-s 120");
  INFO(r.output);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.output, Contains("[rank 1] error: dist-selftest: rank 1 at step 10: planted "
                                "failure 42"));
  CHECK_THAT(r.output, Contains("launch: rank 0 (pid") && Contains("stopped after rank 1 failed"));
  CHECK_THAT(r.output, Contains("error: launch: rank 1 (pid") &&
                           Contains("failed first with exit code 1: error: dist-selftest: rank "
                                    "1 at step 10: planted failure 42"));
  CHECK_THAT(r.output, !Contains("rank 0 done"));
}

TEST_CASE("launch forwards SIGTERM and the ranks stop at the same step", "[dist][multiprocess]") {
  test::TempDir dir("halo-dist");
  const std::string out = dir.str() + "/out";
  Child launcher(
      {"launch", "--nproc-per-node", "2", "--", "dist-selftest", "wait-signal", "--out", out}, {},
      dir.str() + "/launch.log", dist_selftest_binary());
  REQUIRE(wait_for_file(out + "/ready.0", std::chrono::seconds(60)));
  REQUIRE(wait_for_file(out + "/ready.1", std::chrono::seconds(60)));
  launcher.signal(SIGTERM);
  auto status = launcher.wait(std::chrono::seconds(60));
  INFO(launcher.log());
  REQUIRE(status.has_value());
  CHECK(exit_code(*status) == 128 + SIGTERM);
  CHECK_THAT(launcher.log(), Contains("forwarding it to the workers"));
  const std::string s0 = read_file(out + "/stopped.0"), s1 = read_file(out + "/stopped.1");
  CHECK_THAT(s0, Contains("signal 15 own 15"));
  CHECK_THAT(s1, Contains("signal 15 own 15"));
  CHECK(s0.substr(0, s0.find(" signal")) == s1.substr(0, s1.find(" signal")));
}

TEST_CASE("SIGTERM to one rank stops every rank at the same step", "[dist][multiprocess]") {
  test::TempDir dir("halo-dist");
  const std::string out = dir.str() + "/out";
  const int port = distributed::find_free_port();
  const std::vector<std::string> args{"dist-selftest", "wait-signal", "--out", out};
  Child r0(args, rank_env(0, 2, port), dir.str() + "/rank0.log", dist_selftest_binary());
  Child r1(args, rank_env(1, 2, port), dir.str() + "/rank1.log", dist_selftest_binary());
  REQUIRE(wait_for_file(out + "/ready.1", std::chrono::seconds(60)));
  r1.signal(SIGTERM);
  auto s1 = r1.wait(std::chrono::seconds(60));
  auto s0 = r0.wait(std::chrono::seconds(60));
  INFO(r0.log() << r1.log());
  REQUIRE(s0.has_value());
  REQUIRE(s1.has_value());
  CHECK(exit_code(*s0) == 0);
  CHECK(exit_code(*s1) == 0);
  const std::string f0 = read_file(out + "/stopped.0"), f1 = read_file(out + "/stopped.1");
  // Rank 0 got no signal itself and adopts rank 1's (so both exit 128 + 15 in a training run).
  CHECK_THAT(f0, Contains("signal 15 own 0"));
  CHECK_THAT(f1, Contains("signal 15 own 15"));
  CHECK(f0.substr(0, f0.find(" signal")) == f1.substr(0, f1.find(" signal")));
}

TEST_CASE("ranks wait for rank 0 longer than the collective timeout, bounded by their own",
          "[dist][multiprocess]") {
  // Rank 0 works 5 s; dist.timeout_s is 2 s. The store wait of the others has its own timeout:
  // 60 s lets all ranks go on together; 2 s ends them with an error naming that setting and
  // rank 0 (as a quality gate that overruns quality_gate.timeout_s would).
  auto ok = run_selftest(
      "launch --nproc-per-node 2 -- dist-selftest wait-for-rank0 --work-s 5 --timeout-s 2 "
      "--wait-timeout-s 60 --heartbeat-s 0.2");
  INFO(ok.output);
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.output, Contains("[rank 0] dist-selftest: rank 0 went on after"));
  const std::string mark = "rank 1 went on after ";
  const auto at = ok.output.find(mark);
  REQUIRE(at != std::string::npos);
  // Longer than dist.timeout_s (2 s). Each rank's clock starts when its own rendezvous returns,
  // so rank 1 may count a little under rank 0's 5 s of work (4.99985 s seen in CI).
  CHECK(std::stod(ok.output.substr(at + mark.size())) >= 4.0);

  auto late = run_selftest(
      "launch --nproc-per-node 2 --kill-grace-s 2 -- dist-selftest wait-for-rank0 --work-s 60 "
      "--timeout-s 30 --wait-timeout-s 2 --heartbeat-s 0.2");
  INFO(late.output);
  CHECK(late.exit_code == 1);
  CHECK_THAT(late.output, Contains("rank 1 of 2: selftest waiting for rank 0") &&
                              Contains("--wait-timeout-s=2") &&
                              Contains("rank 0 is alive but hung"));
  CHECK_THAT(late.output, !Contains("went on after"));
}

TEST_CASE("launch explains bad usage", "[dist][cli]") {
  auto none = test::run_cli("launch --nproc-per-node 2");
  CHECK(none.exit_code != 0);
  CHECK_THAT(none.output, Contains("command"));
  auto nodes = test::run_cli("launch --nproc-per-node 2 --nnodes 2 --node-rank 1 -- inspect x");
  CHECK(nodes.exit_code != 0);
  CHECK_THAT(nodes.output, Contains("--master-addr is required"));
  auto missing = run_selftest("launch --nproc-per-node 1 -- dist-selftest grads");
  CHECK(missing.exit_code != 0);
  CHECK_THAT(missing.output, Contains("[rank 0]") && Contains("--out is required"));
  // The self-tests are not part of the product binary.
  auto product = test::run_cli("dist-selftest collectives --steps 1");
  CHECK(product.exit_code == 2);
  CHECK_THAT(product.output, Contains("unknown command 'dist-selftest'"));
}
