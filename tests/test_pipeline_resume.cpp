// Interruption and resume, end to end through the CLI on the tiny pipeline: a stage killed with
// SIGKILL at a random step and restarted reproduces the uninterrupted run's per-step losses bit
// for bit, in every training stage; SIGTERM writes a checkpoint and exits with 128 + 15; an
// incomplete newest checkpoint is ignored; a checkpoint from a different config is refused,
// naming the changed keys and leaving RUN/pipeline.json as it was; a run folder copied elsewhere
// with its data resumes there; export turns a run into a model folder that inspect and forward
// load.
#include <catch2/catch.hpp>

#include "halo/checkpoint/checkpoint_store.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

using namespace halo;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

// step -> loss of the training records of a metrics.jsonl (val records separately).
struct Curve {
  std::map<int64_t, double> loss, val_loss;
};

Curve read_curve(const fs::path& path) {
  Curve c;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    if (j.contains("loss")) {
      INFO(path << ": step " << j["step"] << " logged twice");
      REQUIRE(c.loss.emplace(j["step"].get<int64_t>(), j["loss"].get<double>()).second);
    }
    if (j.contains("val_loss")) c.val_loss[j["step"].get<int64_t>()] = j["val_loss"].get<double>();
  }
  return c;
}

int64_t count_loss_lines(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) n += line.find("\"loss\"") != std::string::npos;
  return n;
}

// Starts `halo-distill ARGS...` (output to log), returns its pid.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  std::fflush(nullptr);  // the child must not repeat our buffered output
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::freopen(log.c_str(), "w", stdout);
    dup2(fileno(stdout), fileno(stderr));
    std::vector<char*> argv;
    std::string bin = test::halo_binary();
    argv.push_back(bin.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  return pid;
}

// Runs the stage, sends `sig` once its metrics show `after_steps` steps; returns the wait status.
int interrupt_stage(const std::string& stage, const std::string& yaml, const fs::path& metrics,
                    int64_t after_steps, int sig, const std::string& log) {
  pid_t pid = spawn({"stage", stage, yaml}, log);
  for (int i = 0; i < 60000; ++i) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;  // ended before the signal
    if (fs::exists(metrics) && count_loss_lines(metrics) >= after_steps) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, sig);
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

const std::vector<std::pair<std::string, int64_t>> kTrainingStages = {
    {"pretrain", 10}, {"align", 8}, {"distill", 8}, {"long", 8}};

}  // namespace

TEST_CASE("SIGKILL at a random step, restart: per-step losses bit for bit in every stage",
          "[pipeline][resume]") {
  test::TempDir dir("halo-resume");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string ref_yaml = tiny.write_pipeline("ref", "ref");
  const std::string yaml = tiny.write_pipeline("killed", "killed");

  auto ref = test::run_cli("run " + ref_yaml);
  INFO(ref.output);
  REQUIRE(ref.exit_code == 0);

  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  INFO("random seed " << seed);
  for (const std::string stage : {"pretrain", "align", "select", "distill", "long"}) {
    const fs::path stage_dir = dir.path() / "fixture" / "killed" / stage;
    int64_t steps = 0;
    for (const auto& [name, n] : kTrainingStages) steps = name == stage ? n : steps;
    if (steps > 0) {
      const int64_t kill_after = std::uniform_int_distribution<int64_t>(1, steps - 1)(rng);
      const std::string log = dir.str() + "/" + stage + "-killed.log";
      int status =
          interrupt_stage(stage, yaml, stage_dir / "metrics.jsonl", kill_after, SIGKILL, log);
      INFO("stage " << stage << " killed after step " << kill_after << "\n" << slurp(log));
      REQUIRE(WIFSIGNALED(status));
      REQUIRE(WTERMSIG(status) == SIGKILL);
    }
    auto again = test::run_cli("stage " + std::string(stage) + " " + yaml);
    INFO(again.output);
    REQUIRE(again.exit_code == 0);
  }
  for (const auto& [stage, steps] : kTrainingStages) {
    auto a = read_curve(dir.path() / "fixture" / "ref" / stage / "metrics.jsonl");
    auto b = read_curve(dir.path() / "fixture" / "killed" / stage / "metrics.jsonl");
    INFO("stage " << stage);
    REQUIRE(static_cast<int64_t>(a.loss.size()) == steps);
    REQUIRE(b.loss.size() == a.loss.size());
    for (const auto& [step, loss] : a.loss) {
      INFO("step " << step);
      CHECK(b.loss.at(step) == loss);  // exact, not approximate
    }
    CHECK(b.val_loss == a.val_loss);
  }
  // The losses moved (a test that compares two constant curves shows nothing).
  auto pre = read_curve(dir.path() / "fixture" / "ref" / "pretrain" / "metrics.jsonl");
  CHECK(pre.loss.rbegin()->second < pre.loss.begin()->second);
}

TEST_CASE(
    "SIGTERM checkpoints and exits, incomplete checkpoints are ignored, other configs "
    "are refused, export loads",
    "[pipeline][resume]") {
  test::TempDir dir("halo-sigterm");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string ref_yaml = tiny.write_pipeline("ref", "ref");
  const std::string yaml = tiny.write_pipeline("term", "term");
  auto ref = test::run_cli("stage pretrain " + ref_yaml);
  INFO(ref.output);
  REQUIRE(ref.exit_code == 0);

  const fs::path stage_dir = dir.path() / "fixture" / "term" / "pretrain";
  const std::string log = dir.str() + "/term.log";
  int status = interrupt_stage("pretrain", yaml, stage_dir / "metrics.jsonl", 4, SIGTERM, log);
  INFO(slurp(log));
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 128 + SIGTERM);
  CHECK_THAT(slurp(log), Contains("signal 15: checkpoint of step"));
  checkpoint::CheckpointStore store(stage_dir / "checkpoints", 2);
  auto steps = store.complete_steps();
  REQUIRE(!steps.empty());
  const int64_t stopped_at = steps.back();
  CHECK(stopped_at >= 4);
  CHECK(stopped_at < 10);

  // A different config is refused with the reason, the changed key and the way out, and leaves
  // RUN/pipeline.json as it was, byte for byte.
  const std::string pipeline_json = (dir.path() / "fixture" / "term" / "pipeline.json").string();
  const std::string recorded = slurp(pipeline_json);
  REQUIRE_FALSE(recorded.empty());
  auto other = test::run_cli("stage pretrain " + yaml + " --set stages.pretrain.optimizer.lr=0.01");
  INFO(other.output);
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.output, Contains("different configuration"));
  CHECK_THAT(other.output, Contains("stages.pretrain.optimizer.lr: 0.003 -> 0.01"));
  CHECK_THAT(other.output, Contains("HINT"));
  CHECK(slurp(pipeline_json) == recorded);

  // The newest checkpoint loses its completion marker (a crash between rename and marker):
  // resume must use an older complete one, or start over, and still match bit for bit.
  fs::remove(store.step_dir(stopped_at) / checkpoint::kCompleteMarker);
  auto resumed = test::run_cli("stage pretrain " + yaml);
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, !Contains("(step " + std::to_string(stopped_at) + ")"));
  auto a = read_curve(dir.path() / "fixture" / "ref" / "pretrain" / "metrics.jsonl");
  auto b = read_curve(stage_dir / "metrics.jsonl");
  REQUIRE(b.loss.size() == 10);
  for (const auto& [step, loss] : a.loss) CHECK(b.loss.at(step) == loss);

  // Export: the final checkpoint as a model folder the other tools load.
  const std::string out = dir.str() + "/exported";
  auto ex = test::run_cli("export " + (dir.path() / "fixture" / "term").string() + " --out " + out);
  INFO(ex.output);
  REQUIRE(ex.exit_code == 0);
  auto inspect = test::run_cli("inspect " + out);
  INFO(inspect.output);
  CHECK(inspect.exit_code == 0);
  auto fwd = test::run_cli("forward --model " + out + " --ids \"1 2 3\" --out " + dir.str() +
                           "/logits.safetensors");
  INFO(fwd.output);
  CHECK(fwd.exit_code == 0);
  auto bad = test::run_cli("export " + (dir.path() / "fixture" / "term").string() + " --out " +
                           dir.str() + "/x --step 5");
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.output, Contains("no complete checkpoint of step 5"));
}

TEST_CASE("a run folder copied elsewhere with its data resumes there",
          "[pipeline][resume][moved]") {
  test::TempDir dir("halo-moved");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string ref_yaml = tiny.write_pipeline("ref", "ref");
  const std::string yaml = tiny.write_pipeline("orig", "orig");
  for (const std::string stage : {"pretrain", "align"}) {
    auto ref = test::run_cli("stage " + stage + " " + ref_yaml);
    INFO(ref.output);
    REQUIRE(ref.exit_code == 0);
  }
  auto pre = test::run_cli("stage pretrain " + yaml);
  INFO(pre.output);
  REQUIRE(pre.exit_code == 0);
  const fs::path orig = dir.path() / "fixture" / "orig";
  const std::string log = dir.str() + "/align-term.log";
  int status = interrupt_stage("align", yaml, orig / "align" / "metrics.jsonl", 3, SIGTERM, log);
  INFO(slurp(log));
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 128 + SIGTERM);
  checkpoint::CheckpointStore store(orig / "align" / "checkpoints", 2);
  REQUIRE(store.latest().has_value());

  // The run folder, its data and the model config go elsewhere; the originals are gone.
  const fs::path moved = dir.path() / "elsewhere";
  fs::create_directories(moved);
  fs::copy(orig, moved / "run", fs::copy_options::recursive);
  fs::copy(dir.path() / "fixture" / "data", moved / "data", fs::copy_options::recursive);
  fs::copy_file(tiny.model_config, moved / "model.json");
  fs::rename(orig, dir.path() / "fixture" / "orig-gone");
  fs::rename(dir.path() / "fixture" / "data", dir.path() / "fixture" / "data-gone");
  fs::rename(tiny.model_config, tiny.model_config + ".gone");
  const std::string there =
      " --set run.out_dir=" + (moved / "run").string() +
      " --set data.manifest=" + (moved / "data" / "manifest.json").string() +
      " --set stages.pretrain.model_config=" + (moved / "model.json").string();

  // The finished stage is still done; the interrupted one resumes from its checkpoint and
  // matches the uninterrupted reference bit for bit.
  auto done = test::run_cli("stage pretrain " + yaml + there);
  INFO(done.output);
  REQUIRE(done.exit_code == 0);
  CHECK_THAT(done.output, Contains("[pretrain] done"));
  auto resumed = test::run_cli("stage align " + yaml + there);
  INFO(resumed.output);
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.output, Contains("[align] resumed from " + (moved / "run").string()));
  auto a = read_curve(dir.path() / "fixture" / "ref" / "align" / "metrics.jsonl");
  auto b = read_curve(moved / "run" / "align" / "metrics.jsonl");
  REQUIRE(a.loss.size() == 8);
  REQUIRE(b.loss.size() == a.loss.size());
  for (const auto& [step, loss] : a.loss) CHECK(b.loss.at(step) == loss);

  // Another configuration is refused before it writes anything, naming what changed.
  const std::string pipeline_json = (moved / "run" / "pipeline.json").string();
  const std::string recorded = slurp(pipeline_json);
  auto other = test::run_cli("run " + yaml + there + " --set run.seed=8");
  INFO(other.output);
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.output, Contains("finished under a different configuration"));
  CHECK_THAT(other.output, Contains("run.seed: 7 -> 8"));
  CHECK(slurp(pipeline_json) == recorded);
}
