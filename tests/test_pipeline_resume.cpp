// Interruption and resume, end to end through the CLI on the tiny pipeline: a stage killed with
// SIGKILL at a random step and restarted reproduces the uninterrupted run's per-step losses bit
// for bit, in every training stage, also with precision bfloat16-pure (bfloat16 weights and
// AdamW state, issue 18 item 3; its stage 2 also trains, checked over 20 steps); SIGTERM writes a
// checkpoint and exits with 128 + 15; an incomplete newest checkpoint is ignored; a checkpoint from
// a different config is refused, naming the changed keys and leaving RUN/pipeline.json as it was; a
// run folder copied elsewhere with its data resumes there; export turns a run into a model folder
// that inspect and forward load. Stage outputs on the tiny pipeline, in process: stage 2 starts
// from stage 1's trained mixers bit for bit (issue 21, item 6: a hybrid that copied nothing from
// stage 1 passed before), and stage 1's loss is its definition (HALO_NOTES 3) recomputed here from
// both models' mixer outputs.
#include <catch2/catch.hpp>

#include "data/packed_loader.h"
#include "halo/checkpoint/checkpoint_store.h"
#include "halo/checkpoint/training_state.h"
#include "halo/config/pipeline_config.h"
#include "halo/stages/pipeline_runner.h"
#include "halo/stages/stage1_alignment.h"
#include "halo/stages/student_builder.h"
#include "halo/train/adamw_groups.h"
#include "hypenet/hypenet_checkpoint.h"
#include "hypenet/qwen3_checkpoint.h"
#include "tests/pipeline_fixture.h"
#include "tests/test_util.h"

#include <nlohmann/json.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
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

// Runs the given stages of `cfg` in process, one at a time, as `halo-distill stage NAME` does.
void run_stages(const config::PipelineConfig& cfg, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    stages::RunOptions o;
    o.only_stage = name;
    INFO("stage " << name);
    REQUIRE(stages::run_pipeline(cfg, o));
  }
}

const std::vector<std::pair<std::string, int64_t>> kTrainingStages = {
    {"pretrain", 10}, {"align", 8}, {"distill", 8}, {"long", 8}};

// Runs every stage of `yaml` (the tiny pipeline, out_dir `run`) in order through the CLI; each
// training stage is first killed with SIGKILL once its metrics show a random number of steps in
// [1, steps - 1], then run again to its end. Logs go to `log_dir`.
void kill_and_resume_every_stage(const std::string& yaml, const fs::path& run,
                                 const std::string& log_dir) {
  const auto seed = std::random_device{}();
  std::mt19937 rng(seed);
  INFO("random seed " << seed);
  for (const std::string stage : {"pretrain", "align", "select", "distill", "long"}) {
    const fs::path stage_dir = run / stage;
    int64_t steps = 0;
    for (const auto& [name, n] : kTrainingStages) steps = name == stage ? n : steps;
    if (steps > 0) {
      const int64_t kill_after = std::uniform_int_distribution<int64_t>(1, steps - 1)(rng);
      const std::string log = log_dir + "/" + stage + "-killed.log";
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
}

// Every training stage of run `b` logged run `a`'s per-step and validation losses, bit for bit.
void require_same_curves(const fs::path& a_run, const fs::path& b_run) {
  for (const auto& [stage, steps] : kTrainingStages) {
    auto a = read_curve(a_run / stage / "metrics.jsonl");
    auto b = read_curve(b_run / stage / "metrics.jsonl");
    INFO("stage " << stage);
    REQUIRE(static_cast<int64_t>(a.loss.size()) == steps);
    REQUIRE(b.loss.size() == a.loss.size());
    for (const auto& [step, loss] : a.loss) {
      INFO("step " << step);
      CHECK(b.loss.at(step) == loss);  // exact, not approximate
    }
    CHECK(b.val_loss == a.val_loss);
  }
}

// The tiny pipeline with `precision: bfloat16-pure` in every training stage and `distill_steps`
// stage-2 steps, as dir/NAME.yaml with run.out_dir dir/OUT.
std::string write_bf16_pure_pipeline(const test::TinyPipeline& tiny, const std::string& name,
                                     const std::string& out, int64_t distill_steps) {
  const std::string path = tiny.write_pipeline(name, out);
  std::string text = slurp(path);
  auto replace = [&text](const std::string& from, const std::string& to) {
    const size_t at = text.find(from);
    INFO("the fixture's pipeline has no \"" << from << "\"");
    REQUIRE(at != std::string::npos);
    text.replace(at, from.size(), to);
  };
  for (const std::string kind : {"pretrain", "stage1", "stage2", "stage3"}) {
    replace("    kind: " + kind + "\n", "    kind: " + kind + "\n    precision: bfloat16-pure\n");
  }
  replace("    kind: stage2\n    precision: bfloat16-pure\n    steps: 8\n",
          "    kind: stage2\n    precision: bfloat16-pure\n    steps: " +
              std::to_string(distill_steps) + "\n");
  std::ofstream(path) << text;
  return path;
}

// The dtypes ("F32", "BF16", ...) of the tensors of the safetensors files in `dir`, read from
// their headers (8-byte little-endian header length, then the JSON header).
std::set<std::string> safetensors_dtypes(const fs::path& dir) {
  std::set<std::string> dtypes;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() != ".safetensors") continue;
    std::ifstream in(e.path(), std::ios::binary);
    unsigned char len[8] = {};
    in.read(reinterpret_cast<char*>(len), 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
    std::string header(n, '\0');
    in.read(header.data(), static_cast<std::streamsize>(n));
    REQUIRE(in.good());
    const auto j = nlohmann::json::parse(header);
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "__metadata__") dtypes.insert(it.value().at("dtype").get<std::string>());
    }
  }
  return dtypes;
}

// The student stored in checkpoint `ckpt` (its model/ in bfloat16) and the AdamW state of its
// optimizer.pt, loaded into an optimizer over the student's parameters as the trainer builds it.
struct StoredStudent {
  hypenet::HypeNetForCausalLM model{nullptr};
  std::unique_ptr<torch::optim::AdamW> optimizer;
};
StoredStudent load_stored_student(const fs::path& ckpt, const config::OptimizerConfig& o) {
  StoredStudent s;
  s.model = hypenet::load_hypenet((ckpt / "model").string(), at::kBFloat16, at::kCPU);
  std::vector<std::pair<std::string, at::Tensor>> params;
  for (const auto& p : s.model->named_parameters()) params.emplace_back(p.key(), p.value());
  s.optimizer = train::make_adamw(params, o);
  checkpoint::load_training_state(ckpt, *s.optimizer);
  return s;
}
const torch::optim::AdamWParamState& adamw_state(const torch::optim::AdamW& opt,
                                                 const at::Tensor& p) {
  auto it = opt.state().find(p.unsafeGetTensorImpl());
  REQUIRE(it != opt.state().end());
  return static_cast<const torch::optim::AdamWParamState&>(*it->second);
}

// The bfloat16-pure stage 2 of write_bf16_pure_pipeline(..., 20) must end (mean loss of steps
// 18-20) below this fraction of where it began (steps 1-3). Measured on the same data and
// fixture with float32 (main 6707f38, CPU): training ends at 0.046 of the start; with weights
// that do not move (lr 1e-12, a broken optimizer) at 1.49, as later batches are harder.
constexpr double kBf16TrainMargin = 0.5;

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

  kill_and_resume_every_stage(yaml, dir.path() / "fixture" / "killed", dir.str());
  require_same_curves(dir.path() / "fixture" / "ref", dir.path() / "fixture" / "killed");
  // The losses moved (a test that compares two constant curves shows nothing).
  auto pre = read_curve(dir.path() / "fixture" / "ref" / "pretrain" / "metrics.jsonl");
  CHECK(pre.loss.rbegin()->second < pre.loss.begin()->second);
}

TEST_CASE("precision bfloat16-pure: stage 2 trains bfloat16 weights with bfloat16 AdamW state",
          "[pipeline][bf16]") {
  test::TempDir dir("halo-bf16-train");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const auto cfg = config::load_pipeline_config(write_bf16_pure_pipeline(tiny, "pure", "run", 20));
  REQUIRE(cfg.stage("distill").precision == config::Precision::kBFloat16Pure);
  run_stages(cfg, {"pretrain", "align", "select", "distill"});
  const fs::path run = dir.path() / "fixture" / "run";

  // The loss falls: the mean of the last 3 of 20 steps is at most MARGIN of the first 3's.
  auto curve = read_curve(run / "distill" / "metrics.jsonl");
  REQUIRE(curve.loss.size() == 20);
  double first = 0, last = 0;
  for (int64_t s = 1; s <= 3; ++s) first += curve.loss.at(s) / 3;
  for (int64_t s = 18; s <= 20; ++s) last += curve.loss.at(s) / 3;
  INFO("stage-2 loss, mean of steps 1-3: " << first << ", of steps 18-20: " << last);
  CHECK(last < kBf16TrainMargin * first);

  // The stage's last checkpoint holds the weights in bfloat16 and, for every parameter, AdamW
  // moments in bfloat16 that 20 steps filled.
  checkpoint::CheckpointStore store(run / "distill" / "checkpoints", 2);
  const auto latest = store.latest();
  REQUIRE(latest.has_value());
  CHECK(safetensors_dtypes(*latest / "model") == std::set<std::string>{"BF16"});
  const auto stored = load_stored_student(*latest, cfg.stage("distill").optimizer);
  int64_t params = 0;
  for (const auto& p : stored.model->parameters()) {
    INFO("parameter " << params << " of shape " << p.sizes());
    const auto& st = adamw_state(*stored.optimizer, p);
    CHECK(st.step() == 20);
    CHECK(st.exp_avg().scalar_type() == at::kBFloat16);
    CHECK(st.exp_avg_sq().scalar_type() == at::kBFloat16);
    CHECK(st.exp_avg_sq().abs().max().item<double>() > 0.0);
    ++params;
  }
  CHECK(params > 0);
}

TEST_CASE("precision bfloat16-pure: SIGKILL at a random step, restart: bit for bit in every stage",
          "[pipeline][resume][bf16]") {
  test::TempDir dir("halo-bf16-resume");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string ref_yaml = write_bf16_pure_pipeline(tiny, "ref", "ref", 8);
  const std::string yaml = write_bf16_pure_pipeline(tiny, "killed", "killed", 8);
  auto ref = test::run_cli("run " + ref_yaml);
  INFO(ref.output);
  REQUIRE(ref.exit_code == 0);

  const fs::path a = dir.path() / "fixture" / "ref", b = dir.path() / "fixture" / "killed";
  kill_and_resume_every_stage(yaml, b, dir.str());
  require_same_curves(a, b);

  // The last stage's final checkpoints: the same bfloat16 weights and AdamW moments, bit for bit.
  const auto cfg = config::load_pipeline_config(ref_yaml);
  auto final_checkpoint = [](const fs::path& run) {
    checkpoint::CheckpointStore store(run / "long" / "checkpoints", 2);
    auto latest = store.latest();
    REQUIRE(latest.has_value());
    return *latest;
  };
  const auto ra = load_stored_student(final_checkpoint(a), cfg.stage("long").optimizer);
  const auto rb = load_stored_student(final_checkpoint(b), cfg.stage("long").optimizer);
  const auto pa = ra.model->parameters(), pb = rb.model->parameters();
  REQUIRE(pa.size() == pb.size());
  for (size_t i = 0; i < pa.size(); ++i) {
    INFO("parameter " << i << " of shape " << pa[i].sizes());
    REQUIRE(pa[i].scalar_type() == at::kBFloat16);
    CHECK(at::equal(pa[i], pb[i]));
    const auto &sa = adamw_state(*ra.optimizer, pa[i]), &sb = adamw_state(*rb.optimizer, pb[i]);
    CHECK(sa.step() == sb.step());
    CHECK(sa.exp_avg().scalar_type() == at::kBFloat16);
    CHECK(at::equal(sa.exp_avg(), sb.exp_avg()));
    CHECK(at::equal(sa.exp_avg_sq(), sb.exp_avg_sq()));
  }
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

  // Export: the final checkpoint as a model folder the other tools load. It only reads the run:
  // the stages without checkpoints (the later ones, never started) get no folders from it.
  const std::string out = dir.str() + "/exported";
  const fs::path term = dir.path() / "fixture" / "term";
  auto entries = [&term] {
    std::vector<std::string> names;
    for (const auto& e : fs::recursive_directory_iterator(term)) names.push_back(e.path().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto before = entries();
  auto ex = test::run_cli("export " + term.string() + " --out " + out);
  INFO(ex.output);
  REQUIRE(ex.exit_code == 0);
  CHECK(entries() == before);
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

TEST_CASE("stage 2 starts from stage 1's trained mixers, bit for bit", "[stage1][handoff]") {
  test::TempDir dir("halo-handoff");
  auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
  const std::string yaml = tiny.write_pipeline("handoff", "run");
  // Stage 2 writes no checkpoint before its first step, so it runs one step at lr 1e-30 (the
  // config requires lr > 0): AdamW moves a weight by about lr at most, far below half an ulp of
  // any weight of this size, so stage 2's output is its initial student, bit for bit.
  const auto cfg = config::load_pipeline_config(
      yaml, {"stages.distill.steps=1", "stages.distill.optimizer.lr=1.0e-30",
             "stages.distill.schedule.min_lr=0", "stages.distill.schedule.warmup_steps=0",
             "stages.distill.checkpoint.every=1"});
  run_stages(cfg, {"pretrain", "align", "select", "distill"});

  const fs::path run = dir.path() / "fixture" / "run";
  const auto mixers = stages::read_selection_mixers(run / "select" / "selection.json");
  auto stage1 = hypenet::load_hypenet((run / "align" / "final").string(), at::kFloat, at::kCPU);
  auto stage2 = hypenet::load_hypenet((run / "distill" / "final").string(), at::kFloat, at::kCPU);
  // The untrained conversion stage 1 starts from: stage 2 built from it alone must fail below.
  auto teacher = hypenet::load_qwen3((run / "pretrain" / "final").string(), at::kFloat, at::kCPU);
  auto untrained = stages::all_rnn_student(teacher, cfg.student);

  const auto after_stage1 = stage1->named_parameters();
  const auto initial_stage2 = stage2->named_parameters();
  const auto before_stage1 = untrained->named_parameters();
  int64_t rnn_layers = 0;
  for (size_t i = 0; i < mixers.size(); ++i) {
    if (mixers[i] != hypenet::MixerType::kLightning) continue;
    ++rnn_layers;
    const std::string prefix = "model.layers." + std::to_string(i) + ".self_attn.";
    int64_t tensors = 0;
    bool trained = false;  // stage 1 changed this layer's mixer
    for (const auto& p : after_stage1) {
      if (p.key().rfind(prefix, 0) != 0) continue;
      ++tensors;
      INFO(p.key());
      const at::Tensor* s2 = initial_stage2.find(p.key());
      REQUIRE(s2 != nullptr);
      REQUIRE(s2->sizes() == p.value().sizes());
      CHECK(at::equal(*s2, p.value()));  // exact
      const at::Tensor* s0 = before_stage1.find(p.key());
      REQUIRE(s0 != nullptr);
      trained = trained || !at::equal(*s0, p.value());
    }
    INFO("layer " << i);
    CHECK(tensors > 0);
    CHECK(trained);
  }
  CHECK(rnn_layers == 3);  // 4 layers, num_attention_layers: 1
}

TEST_CASE("stage 1's loss is the mean over layers and tokens of the per-token alignment error",
          "[stage1][loss]") {
  // The per-token errors of the two kinds, in float64 from their definitions (HALO_NOTES 3,
  // stage1_alignment.h): "mse" the mean over D of the squared error, "l2norm" ||diff|| / sqrt(D).
  auto per_token = [](const at::Tensor& student, const at::Tensor& target, config::Loss kind) {
    auto d = student.to(at::kDouble) - target.to(at::kDouble);
    const double D = static_cast<double>(d.size(-1));
    return kind == config::Loss::kMse ? (d * d).sum({-1}) / D
                                      : (d * d).sum({-1}).sqrt() / std::sqrt(D);
  };
  SECTION("alignment_loss_sum sums the per-token error over the tokens of a layer") {
    at::manual_seed(5);
    auto s = at::randn({3, 7, 16});
    auto t = at::randn({3, 7, 16});
    for (const config::Loss kind : {config::Loss::kMse, config::Loss::kL2Norm}) {
      INFO(config::loss_name(kind));
      const double want = per_token(s, t, kind).sum().item<double>();
      const double got = stages::alignment_loss_sum(s, t, kind).item<double>();
      CHECK(got == Approx(want).epsilon(1e-6));
    }
    CHECK(stages::alignment_loss_sum(s, s, config::Loss::kMse).item<double>() == 0.0);
  }
  SECTION("the stage's validation loss, recomputed from both models' mixer outputs") {
    test::TempDir dir("halo-align-loss");
    auto tiny = test::make_tiny_pipeline(dir.str() + "/fixture");
    const auto cfg = config::load_pipeline_config(tiny.write_pipeline("align", "run"));
    run_stages(cfg, {"pretrain", "align"});
    const fs::path run = dir.path() / "fixture" / "run";
    const auto& stage = cfg.stage("align");
    REQUIRE(stage.loss == config::Loss::kL2Norm);
    std::ifstream in(run / "align" / "done.json");
    const double logged = nlohmann::json::parse(in).at("val_loss").get<double>();

    // The stage's final validation loss: its eval.batches first validation batches (in order),
    // the trained student of RUN/align/final against the teacher, every token of every layer.
    auto teacher = hypenet::load_qwen3((run / "pretrain" / "final").string(), at::kFloat, at::kCPU);
    auto student = hypenet::load_hypenet((run / "align" / "final").string(), at::kFloat, at::kCPU);
    stages::apply_student_runtime_options(student, cfg.student);
    teacher->eval();
    student->eval();
    data::LoaderOptions lo;
    lo.manifest = tiny.manifest;
    lo.split = "validation";
    lo.seq_len = stage.seq_len;
    lo.global_batch = stage.batch_size;
    lo.shuffle = false;
    lo.prefetch = 0;
    data::PackedLoader loader(lo);
    torch::NoGradGuard no_grad;
    double sum = 0.0;
    int64_t terms = 0;  // (layer, token) pairs
    for (int64_t b = 0; b < stage.eval.batches; ++b) {
      auto ids = loader.next().input_ids;
      hypenet::ForwardOptions fo;
      fo.capture_mixers = true;
      fo.skip_logits = true;
      auto t = teacher->forward(ids, fo);
      const size_t L = t.mixer_outputs.size();
      REQUIRE(L == 4);
      // Each student mixer gets the teacher's mixer input of its layer (training-time inputs:
      // no inference logit scaling), as in stage 1.
      auto mi = student->mixer_inputs(at::arange(ids.size(1), at::kLong), at::kFloat, true);
      for (size_t i = 0; i < L; ++i) {
        auto out = student->layer(i).mixer_forward(t.mixer_inputs[i], mi);
        REQUIRE(out.sizes() == t.mixer_outputs[i].sizes());
        sum += per_token(out, t.mixer_outputs[i], stage.loss).sum().item<double>();
        terms += ids.numel();
      }
    }
    const double want = sum / static_cast<double>(terms);
    CHECK(want > 0.0);
    CHECK(logged == Approx(want).epsilon(1e-5));
  }
}
